"""Accountability: per-incident KPI facts derived from the events, the terms an incident was
created under (deadline and escalation rules as they stood), the escalation ladder as data.

- `kpi_facts_from_events` (a view) derives, for every incident, the times that matter (received,
  assigned, accepted, finally resolved, closed), reopens, duplicates and the time spent waiting on
  a planned outage, from `incident_events` alone (plus the incident's place and cut-offs).
- `incident_kpi_facts` holds the same rows, refreshed by a statement trigger on `incident_events`
  in the same transaction as the events, so the KPI API aggregates one narrow row per incident.
- `kpi_summaries` keeps whole reports of calendar years and months for the oblast, refreshed by
  the worker and marked stale by the same trigger, so the usual dashboard question is one read.
- `deadline_rules` gain a triage limit and a life span (`superseded_at`): an edit writes a new
  rule and retires the old one, so incidents keep the rule they were created under.
- `escalation_rules`: the ladder's steps (operator reminder, municipal centre, regional centre)
  per utility and priority, each with its legal source; `incident_terms` snapshots them.

Revision ID: 0013
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0001"
branch_labels = None
depends_on = ("0004",)

# One row per incident, from its events. Ties in time (events of one transaction) are broken by
# the event id. "resolved_at" is the last resolution not followed by a reopen; "assigned_at" the
# last assignment before the first acceptance; waiting on a planned outage pauses the resolve clock.
FACTS_VIEW = """
CREATE VIEW kpi_facts_from_events AS
SELECT i.id AS incident_id, i.operator_id, i.municipality_id, i.utility_code, i.priority,
       ev.received_at, res.clock_start, asg.assigned_at, ev.accepted_at, res.resolved_at,
       ev.closed_at, ev.status, ev.reopens, ev.is_duplicate,
       COALESCE(t.accept_minutes, r.accept_minutes) AS accept_limit_min,
       COALESCE(t.resolve_minutes, r.resolve_minutes) AS resolve_limit_min,
       extract(epoch FROM ev.accepted_at - asg.assigned_at)::float8 AS accept_s,
       CASE WHEN res.resolved_at IS NOT NULL THEN
            GREATEST(0, extract(epoch FROM res.resolved_at - res.clock_start)::float8
                        - wt.waiting_s)
       END AS resolve_s,
       CASE WHEN res.resolved_at IS NOT NULL THEN wt.waiting_s END AS waiting_s,
       COALESCE(i.consumers_cut_off, 0) AS consumers,
       COALESCE(jsonb_array_length(i.social_objects_cut_off), 0) AS social_objects,
       i.accept_due_at, i.resolve_due_at, ev.rating
FROM incidents i
CROSS JOIN LATERAL (
    SELECT min(e.at) FILTER (WHERE e.action = 'created') AS received_at,
           min(e.at) FILTER (WHERE e.action = 'accept') AS accepted_at,
           max(e.at) FILTER (WHERE e.action = 'resolve') AS last_resolve,
           max(e.at) FILTER (WHERE e.action = 'reopen') AS last_reopen,
           max(e.at) FILTER (WHERE e.action = 'close') AS closed_at,
           count(*) FILTER (WHERE e.action = 'reopen') AS reopens,
           COALESCE(bool_or(e.action = 'duplicate'), false) AS is_duplicate,
           (array_agg(e.to_status ORDER BY e.at DESC, e.id DESC)
               FILTER (WHERE e.to_status IS NOT NULL))[1] AS status,
           (array_agg((e.data->>'deadline_rule_id')::int ORDER BY e.id)
               FILTER (WHERE e.action = 'created'))[1] AS rule_id,
           (array_agg((e.data->>'rating')::int ORDER BY e.id DESC)
               FILTER (WHERE e.action = 'feedback' AND e.data->>'rating' IS NOT NULL))[1]
               AS rating
    FROM incident_events e WHERE e.incident_id = i.id
) ev
CROSS JOIN LATERAL (
    SELECT COALESCE(i.supply_stopped_at, ev.received_at) AS clock_start,
           CASE WHEN ev.last_resolve > COALESCE(ev.last_reopen, '-infinity')
                THEN ev.last_resolve END AS resolved_at
) res
CROSS JOIN LATERAL (
    SELECT max(e.at) AS assigned_at FROM incident_events e
    WHERE e.incident_id = i.id AND e.action IN ('assign', 'reassign', 'reopen')
      AND e.at <= COALESCE(ev.accepted_at, 'infinity')
) asg
LEFT JOIN incident_terms t ON t.incident_id = i.id
LEFT JOIN deadline_rules r ON r.id = ev.rule_id
LEFT JOIN planned_outages po ON po.id = i.planned_outage_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN po.id IS NOT NULL AND res.resolved_at IS NOT NULL
                THEN GREATEST(0, extract(epoch FROM LEAST(res.resolved_at, po.ends_at)
                                               - GREATEST(res.clock_start, po.starts_at)))::float8
                ELSE 0::float8 END AS waiting_s
) wt
WHERE ev.received_at IS NOT NULL
"""

REFRESH_FUNCTION = """
CREATE FUNCTION kpi_refresh_facts(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM incident_kpi_facts WHERE incident_id = ANY(ids);
    INSERT INTO incident_kpi_facts (incident_id, operator_id, municipality_id, utility_code,
        priority, received_at, clock_start, assigned_at, accepted_at, resolved_at, closed_at,
        status, reopens, is_duplicate, accept_limit_min, resolve_limit_min, accept_s, resolve_s,
        waiting_s, consumers, social_objects, accept_due_at, resolve_due_at, rating)
    SELECT incident_id, operator_id, municipality_id, utility_code, priority, received_at,
        clock_start, assigned_at, accepted_at, resolved_at, closed_at, status, reopens,
        is_duplicate, accept_limit_min, resolve_limit_min, accept_s, resolve_s, waiting_s,
        consumers, social_objects, accept_due_at, resolve_due_at, rating
    FROM kpi_facts_from_events WHERE incident_id = ANY(ids);
    -- The summaries of the periods these incidents were received in are out of date now
    -- (those overlapping the span of their receipt: one index look-up per incident).
    UPDATE kpi_summaries s SET stale = true
    FROM (SELECT min(received_at) AS lo, max(received_at) AS hi FROM incident_kpi_facts
          WHERE incident_id = ANY(ids)) r
    WHERE NOT s.stale AND s.period_start <= r.hi AND s.period_end > r.lo;
$$
"""

# A statement trigger sees every event of the statement at once (a bulk load is one refresh).
TRIGGER_FUNCTION = """
CREATE FUNCTION kpi_events_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kpi_refresh_facts(ARRAY(
        SELECT DISTINCT incident_id FROM new_events WHERE action <> 'notification'));
    RETURN NULL;
END $$
"""
TRIGGER = """
CREATE TRIGGER incident_events_kpi AFTER INSERT ON incident_events
REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION kpi_events_changed()
"""

# Ladder defaults: the operator is reminded when a deadline passes; the municipal centre
# (ЕДДС/МЦУ) is told an hour later, the regional centre (ЦУР) three hours after that. No federal act
# fixes these times; they are the service's defaults for the region to confirm.
LADDER = [
    (1, "operator", 0, "service default: reminder to the operator when a deadline passes"),
    (2, "municipal", 60, "service default: ЕДДС/МЦУ of the municipality 1 h after the deadline"),
    (3, "regional", 240, "service default: ЦУР of the oblast 4 h after the deadline"),
]


def upgrade() -> None:
    """The facts table, its view and trigger; rule life spans; the ladder; incident terms."""
    op.add_column("deadline_rules", sa.Column("triage_minutes", sa.Integer(), nullable=True))
    op.add_column(
        "deadline_rules",
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("deadline_rules", sa.Column("created_by", sa.Text(), nullable=True))
    op.add_column(
        "deadline_rules", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True)
    )
    # The rules so far have been in force all along (incidents of any age find them by date).
    op.execute("UPDATE deadline_rules SET created_at = '2000-01-01T00:00:00Z'")
    # Triage: a new incident nobody assigns within 30 min climbs the ladder (service default).
    op.execute("UPDATE deadline_rules SET triage_minutes = 30 WHERE utility_code IS NULL")

    op.create_table(
        "escalation_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("after_minutes", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name="escalation_level"),
        sa.CheckConstraint(
            "target IN ('operator', 'municipal', 'regional')", name="escalation_target"
        ),
        sa.CheckConstraint("after_minutes >= 0", name="escalation_after"),
        sa.ForeignKeyConstraint(["utility_code"], ["utilities.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    rules = sa.table(
        "escalation_rules",
        sa.column("level", sa.Integer),
        sa.column("target", sa.String),
        sa.column("after_minutes", sa.Integer),
        sa.column("source", sa.Text),
    )
    op.bulk_insert(
        rules,
        [dict(zip(("level", "target", "after_minutes", "source"), r, strict=True)) for r in LADDER],
    )
    op.execute("UPDATE escalation_rules SET created_at = '2000-01-01T00:00:00Z'")

    op.create_table(
        "incident_terms",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("deadline_rule_id", sa.Integer(), nullable=True),
        sa.Column("accept_minutes", sa.Integer(), nullable=True),
        sa.Column("resolve_minutes", sa.Integer(), nullable=True),
        sa.Column("triage_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "ladder",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["deadline_rule_id"], ["deadline_rules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("incident_id"),
    )

    op.create_table(
        "incident_kpi_facts",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clock_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("reopens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_duplicate", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("accept_limit_min", sa.Integer(), nullable=True),
        sa.Column("resolve_limit_min", sa.Integer(), nullable=True),
        sa.Column("accept_s", sa.Float(), nullable=True),
        sa.Column("resolve_s", sa.Float(), nullable=True),
        sa.Column("waiting_s", sa.Float(), nullable=True),
        sa.Column("consumers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("social_objects", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accept_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_index("incident_kpi_facts_received", "incident_kpi_facts", ["received_at"])
    op.create_table(
        "kpi_summaries",
        sa.Column("group_by", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stale", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("group_by", "period"),
    )
    op.execute(FACTS_VIEW)
    op.execute(REFRESH_FUNCTION)
    op.execute(TRIGGER_FUNCTION)
    op.execute(TRIGGER)
    op.execute("SELECT kpi_refresh_facts(ARRAY(SELECT id FROM incidents))")


def downgrade() -> None:
    """Drop everything upgrade made."""
    op.execute("DROP TRIGGER incident_events_kpi ON incident_events")
    op.execute("DROP FUNCTION kpi_events_changed()")
    op.execute("DROP FUNCTION kpi_refresh_facts(bigint[])")
    op.execute("DROP VIEW kpi_facts_from_events")
    op.drop_table("kpi_summaries")
    op.drop_index("incident_kpi_facts_received", table_name="incident_kpi_facts")
    op.drop_table("incident_kpi_facts")
    op.drop_table("incident_terms")
    op.drop_table("escalation_rules")
    for column in ("superseded_at", "created_by", "created_at", "triage_minutes"):
        op.drop_column("deadline_rules", column)
