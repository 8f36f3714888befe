"""The rules an admin edits: deadline rules and the escalation ladder, each with its legal source.

A rule is never changed in place: an edit writes a new row and retires the one it replaces
(`superseded_at`), so an incident keeps the rules it was created under (incident_terms records
them; `as_of` finds the rules in force at a moment).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.errors import NotFound
from gis_app.incidents import validate as v

TARGETS = {1: "operator", 2: "municipal", 3: "regional"}
# In force at :as_of: created before it and not retired by then.
IN_FORCE = "created_at <= :as_of AND (superseded_at IS NULL OR superseded_at > :as_of)"

_LADDER_SQL = text(
    f"""
    SELECT DISTINCT ON (level) id, level, target, after_minutes, source FROM escalation_rules
    WHERE (utility_code IS NULL OR utility_code = :utility)
      AND (priority IS NULL OR priority = :priority) AND {IN_FORCE}
    ORDER BY level, (utility_code IS NOT NULL) DESC, (priority IS NOT NULL) DESC, id DESC
    """
)
_TRIAGE_SQL = text(
    f"""
    SELECT triage_minutes FROM deadline_rules
    WHERE (utility_code IS NULL OR utility_code = :utility) AND (kind IS NULL OR kind = :kind)
      AND (priority IS NULL OR priority = :priority) AND triage_minutes IS NOT NULL
      AND {IN_FORCE}
    ORDER BY (utility_code IS NOT NULL) DESC, (kind IS NOT NULL) DESC,
             (priority IS NOT NULL) DESC, id DESC
    LIMIT 1
    """
)


def ladder_for(session: Session, utility: str, priority: int, as_of: datetime) -> list[dict]:
    """The ladder's steps (level, target, after_minutes, rule_id, source) for this utility and
    priority as in force at `as_of`; the most specific rule wins at each level."""
    rows = session.execute(
        _LADDER_SQL, {"utility": utility, "priority": priority, "as_of": as_of}
    ).mappings()
    return [
        {
            "level": r["level"],
            "target": r["target"],
            "after_minutes": r["after_minutes"],
            "rule_id": r["id"],
            "source": r["source"],
        }
        for r in rows
    ]


def triage_minutes(
    session: Session, utility: str, kind: str, priority: int, as_of: datetime
) -> int | None:
    """Minutes a new incident may wait for a dispatcher to assign it (None: no limit)."""
    return session.execute(
        _TRIAGE_SQL, {"utility": utility, "kind": kind, "priority": priority, "as_of": as_of}
    ).scalar_one_or_none()


def _json(row) -> dict:
    data = dict(row)
    for key in ("created_at", "superseded_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    return data


def list_escalation_rules(session: Session, include_retired: bool = False) -> list[dict]:
    """The ladder's rules (in force only, unless `include_retired`)."""
    where = "" if include_retired else "WHERE superseded_at IS NULL"
    rows = session.execute(
        text(
            "SELECT id, utility_code AS utility, priority, level, target, after_minutes, source,"
            f" created_at, created_by, superseded_at FROM escalation_rules {where}"
            " ORDER BY level, utility_code NULLS FIRST, priority NULLS FIRST, id"
        )
    ).mappings()
    return [_json(r) for r in rows]


def _key_fields(session: Session, body: dict) -> tuple[str | None, int | None]:
    utility = v.utility(session, body["utility"]) if body.get("utility") is not None else None
    priority = (
        v.integer(body["priority"], "priority", 1, 4) if body.get("priority") is not None else None
    )
    return utility, priority


def put_escalation_rule(session: Session, actor: str, body: object) -> dict:
    """Add a ladder step for (utility, priority, level), retiring the one it replaces; its JSON."""
    body = v.require_object(body)
    v.reject_unknown(body, {"utility", "priority", "level", "after_minutes", "source"})
    utility, priority = _key_fields(session, body)
    if body.get("level") is None:
        raise v.bad("level", "is required (1 operator, 2 municipal centre, 3 regional centre)")
    level = v.integer(body["level"], "level", 1, 3)
    if body.get("after_minutes") is None:
        raise v.bad("after_minutes", "is required", "missing_field")
    after = v.integer(body["after_minutes"], "after_minutes", 0, 60 * 24 * 30)
    source = v.text_field(body.get("source"), "source", v.MAX_SHORT_TEXT, required=True)
    session.execute(
        text(
            "UPDATE escalation_rules SET superseded_at = now() WHERE superseded_at IS NULL"
            " AND utility_code IS NOT DISTINCT FROM :u AND priority IS NOT DISTINCT FROM :p"
            " AND level = :l"
        ),
        {"u": utility, "p": priority, "l": level},
    )
    new_id = session.execute(
        text(
            "INSERT INTO escalation_rules (utility_code, priority, level, target, after_minutes,"
            " source, created_by) VALUES (:u, :p, :l, :t, :a, :s, :by) RETURNING id"
        ),
        {
            "u": utility,
            "p": priority,
            "l": level,
            "t": TARGETS[level],
            "a": after,
            "s": source,
            "by": actor,
        },
    ).scalar_one()
    return next(r for r in list_escalation_rules(session) if r["id"] == new_id)


def retire_rule(session: Session, table: str, rule_id: int) -> None:
    """Retire a rule in force (escalation_rules or deadline_rules); 404 when there is none."""
    assert table in ("escalation_rules", "deadline_rules"), table
    # `table` is one of two fixed names (asserted above), never request text.
    done = session.execute(
        text(f"UPDATE {table} SET superseded_at = now() WHERE id = :id AND superseded_at IS NULL"),
        {"id": rule_id},
    ).rowcount
    if not done:
        raise NotFound(f"No rule {rule_id} in force.", code="rule_not_found", rule_id=rule_id)


def put_deadline_rule(session: Session, actor: str, body: object) -> dict:
    """Add a deadline rule for (utility, kind, priority, dead_end), retiring the one it replaces."""
    body = v.require_object(body)
    allowed = {
        "utility",
        "kind",
        "priority",
        "dead_end",
        "accept_minutes",
        "resolve_minutes",
        "triage_minutes",
        "source",
        "confirmed",
    }
    v.reject_unknown(body, allowed)
    utility, priority = _key_fields(session, body)
    kind = v.kind(body["kind"]) if body.get("kind") is not None else None
    dead_end = v.boolean(body["dead_end"], "dead_end", False) if "dead_end" in body else None
    minutes = {}
    for name in ("accept_minutes", "resolve_minutes", "triage_minutes"):
        value = body.get(name)
        minutes[name] = None if value is None else v.integer(value, name, 1, 60 * 24 * 60)
    if minutes["accept_minutes"] is None and minutes["resolve_minutes"] is None:
        raise v.bad("resolve_minutes", "accept_minutes or resolve_minutes is required")
    source = v.text_field(body.get("source"), "source", v.MAX_SHORT_TEXT, required=True)
    confirmed = v.boolean(body.get("confirmed"), "confirmed", False)
    params = {"u": utility, "k": kind, "p": priority, "d": dead_end}
    session.execute(
        text(
            "UPDATE deadline_rules SET superseded_at = now() WHERE superseded_at IS NULL"
            " AND utility_code IS NOT DISTINCT FROM :u AND kind IS NOT DISTINCT FROM :k"
            " AND priority IS NOT DISTINCT FROM :p AND dead_end IS NOT DISTINCT FROM :d"
        ),
        params,
    )
    new_id = session.execute(
        text(
            "INSERT INTO deadline_rules (utility_code, kind, priority, dead_end, accept_minutes,"
            " resolve_minutes, triage_minutes, source, confirmed, created_by)"
            " VALUES (:u, :k, :p, :d, :a, :r, :t, :s, :c, :by) RETURNING id"
        ),
        {
            **params,
            "a": minutes["accept_minutes"],
            "r": minutes["resolve_minutes"],
            "t": minutes["triage_minutes"],
            "s": source,
            "c": confirmed,
            "by": actor,
        },
    ).scalar_one()
    row = (
        session.execute(
            text(
                "SELECT id, utility_code AS utility, kind, priority, dead_end, accept_minutes,"
                " resolve_minutes, triage_minutes, source, confirmed, created_at, created_by,"
                " superseded_at FROM deadline_rules WHERE id = :id"
            ),
            {"id": new_id},
        )
        .mappings()
        .one()
    )
    return _json(row)
