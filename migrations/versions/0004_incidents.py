"""Incidents workflow: why an operator was chosen, planned outages, deadline rules (seeded with
the federal limits on interruptions), the notification outbox, operators' webhooks.

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

H = 60
# The defaults of README "Deadlines" (DOMAIN.md §4); accept: 1 h everywhere (Минэнерго order 91
# asks an electricity accident to reach the dispatcher within 1 h; the same is used for the rest).
DEADLINE_RULES = [
    (
        None,
        None,
        None,
        None,
        H,
        24 * H,
        "service default: 24 h when no federal limit applies",
        False,
    ),
    (
        "water",
        None,
        None,
        None,
        H,
        4 * H,
        "ПП 354, Annex 1 (ХВС/ГВС): 4 h at a time, 8 h a month",
        True,
    ),
    (
        "water",
        "accident",
        None,
        True,
        H,
        24 * H,
        "ПП 354, Annex 1: 24 h for an accident on a dead-end main",
        True,
    ),
    (
        "sewerage",
        None,
        None,
        None,
        H,
        4 * H,
        "ПП 354, Annex 1 (водоотведение): 4 h at a time — check the text",
        False,
    ),
    (
        "heat",
        None,
        None,
        None,
        H,
        16 * H,
        "ПП 354, Annex 1 (отопление): 16 h at room +12 °C…normal",
        True,
    ),
    ("heat", None, 2, None, H, 8 * H, "ПП 354, Annex 1 (отопление): 8 h at room +10…+12 °C", True),
    ("heat", None, 1, None, H, 4 * H, "ПП 354, Annex 1 (отопление): 4 h at room +8…+10 °C", True),
    (
        "electricity",
        None,
        None,
        None,
        H,
        24 * H,
        "ПП 861: 24 h, 3rd reliability category; accept: Минэнерго order 91, 1 h",
        True,
    ),
    ("gas", None, None, None, H, 4 * H, "ПП 354: 4 h a month in total — unconfirmed", False),
    ("roads", None, None, None, H, 24 * H, "service default: no federal limit for roads", False),
]


def upgrade() -> None:
    op.add_column("operators", sa.Column("webhook_url", sa.Text(), nullable=True))
    op.add_column("operators", sa.Column("webhook_secret", sa.Text(), nullable=True))

    op.create_table(
        "deadline_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("dead_end", sa.Boolean(), nullable=True),
        sa.Column("accept_minutes", sa.Integer(), nullable=True),
        sa.Column("resolve_minutes", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), server_default="", nullable=False),
        sa.Column("confirmed", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(["utility_code"], ["utilities.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    rules = sa.table(
        "deadline_rules",
        sa.column("utility_code", sa.String),
        sa.column("kind", sa.String),
        sa.column("priority", sa.Integer),
        sa.column("dead_end", sa.Boolean),
        sa.column("accept_minutes", sa.Integer),
        sa.column("resolve_minutes", sa.Integer),
        sa.column("source", sa.Text),
        sa.column("confirmed", sa.Boolean),
    )
    keys = (
        "utility_code",
        "kind",
        "priority",
        "dead_end",
        "accept_minutes",
        "resolve_minutes",
        "source",
        "confirmed",
    )
    op.bulk_insert(rules, [dict(zip(keys, row, strict=True)) for row in DEADLINE_RULES])

    op.create_table(
        "planned_outages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("utility_code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "feature_ids", postgresql.ARRAY(sa.BigInteger()), server_default="{}", nullable=False
        ),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_demo", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("ends_at > starts_at", name="planned_outage_period"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["utility_code"], ["utilities.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_planned_outages_operator_id"), "planned_outages", ["operator_id"])
    op.create_geospatial_index(
        "planned_outages_geom_idx",
        "planned_outages",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )

    op.add_column("incidents", sa.Column("responsible_layer", sa.String(length=64), nullable=True))
    op.add_column("incidents", sa.Column("responsible_area_id", sa.Integer(), nullable=True))
    op.add_column(
        "incidents", sa.Column("responsible_computed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("incidents", sa.Column("planned_outage_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "incidents",
        sa.Column("source", sa.String(length=16), server_default="dispatcher", nullable=False),
    )
    op.add_column("incidents", sa.Column("created_by", sa.Text(), nullable=True))
    op.add_column("incidents", sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("expected_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "incidents", sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_foreign_key(
        "incidents_responsible_area_id_fkey",
        "incidents",
        "service_areas",
        ["responsible_area_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        "incidents_planned_outage_id_fkey",
        "incidents",
        "planned_outages",
        ["planned_outage_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_incidents_duplicate_of"), "incidents", ["duplicate_of"])
    op.create_index(op.f("ix_incidents_planned_outage_id"), "incidents", ["planned_outage_id"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name="notification_channel"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="notification_status"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_notifications_incident_id"), "notifications", ["incident_id"])
    op.create_index("notifications_due", "notifications", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("notifications_due", table_name="notifications")
    op.drop_index(op.f("ix_notifications_incident_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_incidents_planned_outage_id"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_duplicate_of"), table_name="incidents")
    op.drop_constraint("incidents_planned_outage_id_fkey", "incidents", type_="foreignkey")
    op.drop_constraint("incidents_responsible_area_id_fkey", "incidents", type_="foreignkey")
    for column in (
        "overdue_notified_at",
        "expected_at",
        "assigned_at",
        "created_by",
        "source",
        "planned_outage_id",
        "responsible_computed_at",
        "responsible_area_id",
        "responsible_layer",
    ):
        op.drop_column("incidents", column)
    op.drop_geospatial_index(
        "planned_outages_geom_idx",
        table_name="planned_outages",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_index(op.f("ix_planned_outages_operator_id"), table_name="planned_outages")
    op.drop_geospatial_table("planned_outages")
    op.drop_table("deadline_rules")
    op.drop_column("operators", "webhook_secret")
    op.drop_column("operators", "webhook_url")
