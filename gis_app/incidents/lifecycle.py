"""The lifecycle: which move, from which status, by whom; every change an event; no lost update.

    new ──assign──▶ assigned ──accept──▶ accepted ──start──▶ in_progress ──resolve──▶ resolved
                       │  ▲                 │                                      │
                reject │  │ assign/         │ reject / resolve                     │ close
                       ▼  │ reassign        ▼                                      ▼
                    rejected ◀──────────────┘                                    closed
    resolved/closed ──reopen──▶ assigned;  new/rejected ──close (with a comment)──▶ closed
    new/assigned/accepted/rejected ──duplicate (duplicate_of)──▶ duplicate

Each write names the version it saw (If-Match); the row is locked and the version compared, so
of two writers on one version the second gets 412 and must re-read. Views call `transition` and
`update`; both return nothing and leave the commit to the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity
from gis_app.errors import Forbidden, InvalidParameter, PreconditionFailed
from gis_app.incidents import deadlines, notify, remit, reporter, terms
from gis_app.incidents import validate as v
from gis_app.incidents.errors import IncidentNotFound, TransitionNotAllowed

DISPATCH = "dispatch"  # dispatchers of the incident's municipality, and admins
OPERATOR = "operator"  # staff of the incident's operator, and admins
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Move:
    """One lifecycle move: allowed source statuses, target, who, whether a comment is required."""

    sources: frozenset[str]
    target: str
    who: str
    comment_required: bool = False
    notify: str | None = None


MOVES: dict[str, Move] = {
    "assign": Move(frozenset({"new", "rejected"}), "assigned", DISPATCH, notify="assigned"),
    "reassign": Move(
        frozenset({"assigned", "accepted", "in_progress"}), "assigned", DISPATCH, True, "reassigned"
    ),
    "accept": Move(frozenset({"assigned"}), "accepted", OPERATOR),
    "start": Move(frozenset({"accepted"}), "in_progress", OPERATOR),
    "resolve": Move(frozenset({"accepted", "in_progress"}), "resolved", OPERATOR),
    "reject": Move(frozenset({"assigned", "accepted"}), "rejected", OPERATOR, True),
    "close": Move(frozenset({"resolved", "new", "rejected"}), "closed", DISPATCH),
    "reopen": Move(frozenset({"resolved", "closed"}), "assigned", DISPATCH, True, "reopened"),
    # A dispatcher links a report to the incident it repeats (`duplicate_of`).
    "duplicate": Move(
        frozenset({"new", "assigned", "accepted", "rejected"}), "duplicate", DISPATCH
    ),
}
# What operator staff may change of their own incidents; dispatchers may change every field.
OPERATOR_FIELDS = {
    "expected_at",
    "consumers_cut_off",
    "social_objects_cut_off",
    "utilities_cut_off",
    "settlements_cut_off",
    "supply_stopped_at",
}
_LOCK = text(
    "SELECT id, status, version, operator_id, municipality_id, utility_code, kind, priority,"
    " feature_id, reported_at, supply_stopped_at, assigned_at, duplicate_of"
    " FROM incidents WHERE id = :id FOR UPDATE"
)


def allowed(actor: Identity, who: str, row) -> bool:
    """May `actor` act as `who` (DISPATCH or OPERATOR) on the incident `row`?"""
    if actor.role == "admin":
        return True
    if who == DISPATCH:
        return actor.role == "dispatcher" and actor.can_see_municipality(row.municipality_id)
    return (
        actor.role == "operator"
        and row.operator_id is not None
        and actor.operator_id == row.operator_id
    )


def _lock(session: Session, incident_id: int, version: int):
    row = session.execute(_LOCK, {"id": incident_id}).one_or_none()
    if row is None:
        raise IncidentNotFound(f"Incident {incident_id} does not exist.", incident_id=incident_id)
    if row.version != version:
        raise PreconditionFailed(
            f"Incident {incident_id} changed since version {version}; it is at version "
            f"{row.version}. Re-read it and try again.",
            incident_id=incident_id,
            current_version=row.version,
            your_version=version,
        )
    return row


def record(
    session: Session,
    incident_id: int,
    actor: str,
    action: str,
    frm: str | None,
    to: str | None,
    comment: str | None = None,
    data: dict | None = None,
) -> None:
    """Write one event of an incident's history."""
    session.execute(
        text(
            "INSERT INTO incident_events (incident_id, actor, action, from_status, to_status,"
            " comment, data) VALUES (:i, :a, :act, :f, :t, :c, CAST(:d AS jsonb))"
        ),
        {
            "i": incident_id,
            "a": actor,
            "act": action,
            "f": frm,
            "t": to,
            "c": comment,
            "d": json.dumps(data or {}, ensure_ascii=False, default=str),
        },
    )


def _operator(session: Session, value: object) -> tuple[int, str]:
    if value is None:
        raise v.bad(
            "operator_id", "is required (no operator was found for this point)", "missing_field"
        )
    operator_id = v.integer(value, "operator_id", 1, 2**31)
    name = session.execute(
        text("SELECT short_name FROM operators WHERE id = :id"), {"id": operator_id}
    ).scalar_one_or_none()
    if name is None:
        raise v.bad("operator_id", f"no operator has id {operator_id}", "unknown_operator")
    return operator_id, name


def transition(
    session: Session,
    actor: Identity,
    incident_id: int,
    action: str,
    version: int,
    body: dict | None = None,
) -> None:
    """Apply a lifecycle move; raises 400/403/404/409/412 errors and writes nothing then."""
    body = v.require_object(body or {})
    move = MOVES.get(action)
    if move is None:
        raise InvalidParameter(
            f"Unknown action '{action}'.",
            code="unknown_action",
            action=action,
            allowed=sorted(MOVES),
        )
    v.reject_unknown(body, {"comment", "operator_id", "expected_at", "duplicate_of"})
    row = _lock(session, incident_id, version)
    if not allowed(actor, move.who, row):
        who = (
            "the incident's dispatcher" if move.who == DISPATCH else "the assigned operator's staff"
        )
        raise Forbidden(
            f"Only {who} (or an admin) may {action} incident {incident_id}.",
            code="not_allowed",
            action=action,
            role=actor.role,
        )
    if row.status not in move.sources:
        raise TransitionNotAllowed(
            f"Cannot {action} an incident that is {row.status}.",
            action=action,
            status=row.status,
            allowed_from=sorted(move.sources),
        )
    comment = v.text_field(
        body.get("comment"),
        "comment",
        MAX_COMMENT,
        required=move.comment_required or (action == "close" and row.status != "resolved"),
    )
    sets = {"status": move.target}
    data: dict = {}
    if action in ("assign", "reassign"):
        if body.get("operator_id") is None and action == "assign" and row.operator_id:
            operator_id, name = _operator(session, row.operator_id)
        else:
            operator_id, name = _operator(session, body.get("operator_id"))
        if action == "reassign" and operator_id == row.operator_id:
            raise v.bad("operator_id", "is already the incident's operator")
        remit.check_assignee(session, operator_id, row.utility_code)
        sets["operator_id"] = operator_id
        data = {
            "operator_id": operator_id,
            "operator": name,
            "previous_operator_id": row.operator_id,
        }
    if action in ("assign", "reassign", "reopen"):
        rule = deadlines.deadline_for(
            session,
            row.utility_code,
            row.kind,
            row.priority,
            deadlines.is_dead_end(session, row.feature_id),
            as_of=row.reported_at,
        )
        sets["assigned_at"] = NOW
        sets["accept_due_at"] = (
            SQL(f"now() + make_interval(mins => {int(rule.accept_minutes)})")
            if rule.accept_minutes is not None
            else None
        )
    if action in ("accept", "start") and body.get("expected_at") is not None:
        sets["expected_at"] = v.timestamp(body["expected_at"], "expected_at")
    elif body.get("expected_at") is not None:
        raise v.bad("expected_at", f"is set on accept or start, not on {action}")
    if action == "resolve":
        sets["resolved_at"] = NOW
    if action == "close":
        sets["closed_at"] = NOW
    if action == "reopen":
        sets.update(resolved_at=None, closed_at=None, overdue_notified_at=None)
    if action == "duplicate":
        master = _master(session, actor, incident_id, body.get("duplicate_of"))
        sets["duplicate_of"] = master
        data = {"duplicate_of": master}
    elif body.get("duplicate_of") is not None:
        raise v.bad("duplicate_of", f"is set by the action 'duplicate', not '{action}'")
    _write(session, incident_id, sets)
    if action in ("assign", "reassign", "reopen"):
        terms.restart_ladder(session, incident_id)
    if action == "duplicate":
        record(
            session,
            sets["duplicate_of"],
            actor.username,
            "duplicate_linked",
            None,
            None,
            f"№{incident_id} — повторное сообщение",
            {"duplicate_id": incident_id},
        )
    record(session, incident_id, actor.username, action, row.status, move.target, comment, data)
    if action == "close":
        _close_duplicates(session, incident_id, actor.username)
    if move.notify:
        notify.enqueue(session, incident_id, move.notify)
    reporter.tell_reporter(session, incident_id, action)


class SQL(str):
    """A constant SQL expression written by this module (never client text)."""


NOW = SQL("now()")


def _write(session: Session, incident_id: int, sets: dict) -> None:
    """UPDATE the row (locked by the caller), bumping the version; SQL values are inlined."""
    clauses, params = ["version = version + 1", "updated_at = now()"], {"id": incident_id}
    for n, (column, value) in enumerate(sets.items()):
        if isinstance(value, SQL):
            clauses.append(f"{column} = {value}")
        elif column in ("social_objects_cut_off", "settlements_cut_off"):
            clauses.append(f"{column} = CAST(:v{n} AS jsonb)")
            params[f"v{n}"] = json.dumps(value, ensure_ascii=False)
        else:
            clauses.append(f"{column} = :v{n}")
            params[f"v{n}"] = value
    # Column names come from this module and validate.PATCH_FIELDS, never from the request.
    session.execute(text(f"UPDATE incidents SET {', '.join(clauses)} WHERE id = :id"), params)


def _master(session: Session, actor: Identity, incident_id: int, value: object) -> int:
    """The open, original incident a report is to be linked to; 400 when it cannot be,
    403 when it lies outside the dispatcher's municipalities."""
    if value is None:
        raise v.bad("duplicate_of", "is required", "missing_field")
    master = v.integer(value, "duplicate_of", 1, 2**62)
    row = session.execute(
        text("SELECT status, duplicate_of, municipality_id FROM incidents WHERE id = :id"),
        {"id": master},
    ).one_or_none()
    if master == incident_id or row is None:
        raise v.bad("duplicate_of", f"no other incident has id {master}")
    remit.check_duplicate_target(actor, master, row.municipality_id)
    if row.duplicate_of is not None or row.status not in deadlines.OPEN_STATUSES:
        raise v.bad("duplicate_of", f"incident {master} is not an open original ({row.status})")
    return master


def _close_duplicates(session: Session, incident_id: int, actor: str) -> None:
    ids = (
        session.execute(
            text(
                "UPDATE incidents SET closed_at = now(), version = version + 1, updated_at = now()"
                " WHERE duplicate_of = :id AND closed_at IS NULL RETURNING id"
            ),
            {"id": incident_id},
        )
        .scalars()
        .all()
    )
    for dup in ids:
        record(
            session,
            dup,
            actor,
            "closed_with",
            "duplicate",
            "duplicate",
            f"закрыт вместе с №{incident_id}",
            {"duplicate_of": incident_id},
        )


def update(session: Session, actor: Identity, incident_id: int, version: int, body: object) -> None:
    """Change fields of an incident (PATCH); deadlines follow kind, priority and supply stop."""
    row = _lock(session, incident_id, version)
    changes = v.patch_payload(session, body, row.utility_code)
    # Dispatchers (and admins) may change every field; the operator's staff only theirs.
    if not allowed(actor, DISPATCH, row):
        if not allowed(actor, OPERATOR, row):
            raise Forbidden(
                f"You may not change incident {incident_id}.", code="not_allowed", role=actor.role
            )
        extra = sorted(set(changes) - OPERATOR_FIELDS)
        if extra:
            raise Forbidden(
                f"Operator staff may not change {', '.join(extra)}.",
                code="not_allowed",
                fields=extra,
            )
        if "expected_at" in changes:
            remit.check_expected_at(actor, row.status)
    before = (
        session.execute(
            text("SELECT " + ", ".join(changes) + " FROM incidents WHERE id = :id"),
            {"id": incident_id},
        )
        .mappings()
        .one()
    )
    sets = dict(changes)
    if {"kind", "priority", "supply_stopped_at"} & set(changes):
        kind = changes.get("kind", row.kind)
        priority = changes.get("priority", row.priority)
        stopped = changes.get("supply_stopped_at", row.supply_stopped_at)
        rule = deadlines.deadline_for(
            session,
            row.utility_code,
            kind,
            priority,
            deadlines.is_dead_end(session, row.feature_id),
            as_of=row.reported_at,
        )
        sets["resolve_due_at"] = rule.resolve_due(row.reported_at, stopped)
        sets["accept_due_at"] = rule.accept_due(row.assigned_at)
    _write(session, incident_id, sets)
    diff = {k: {"from": before[k], "to": changes[k]} for k in changes if before[k] != changes[k]}
    record(session, incident_id, actor.username, "updated", row.status, row.status, None, diff)
