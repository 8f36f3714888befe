"""The record of admin changes: who changed which operator, area, designation, municipality or
utility, when, and the row before and after (the `admin_changes` table, migration 0010)."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session


def record_change(
    session: Session, username: str, user_id: int | None, entity: str, key: str, action: str,
    before: dict | None, after: dict | None, comment: str | None = None,
) -> None:  # fmt: skip
    """Write one change in the caller's transaction (so it stands or falls with the change)."""
    session.execute(
        text(
            "INSERT INTO admin_changes (user_id, username, entity, entity_key, action, before,"
            " after, comment) VALUES (:uid, :user, :entity, :key, :action,"
            " CAST(:before AS jsonb), CAST(:after AS jsonb), :comment)"
        ),
        {
            "uid": user_id, "user": username, "entity": entity, "key": str(key),
            "action": action, "before": _json(before), "after": _json(after), "comment": comment,
        },
    )  # fmt: skip


def list_changes(
    session: Session, entity: str | None = None, key: str | None = None, limit: int = 100
) -> list[dict]:
    """The latest changes, newest first, of one kind of entity (and one of them) if given."""
    rows = session.execute(
        text(
            "SELECT id, at, username, entity, entity_key, action, before, after, comment"
            " FROM admin_changes WHERE (CAST(:entity AS text) IS NULL OR entity = :entity)"
            " AND (CAST(:key AS text) IS NULL OR entity_key = :key) ORDER BY id DESC LIMIT :limit"
        ),
        {"entity": entity, "key": key, "limit": limit},
    ).mappings()
    return [{**r, "at": r["at"].isoformat()} for r in rows]


def _json(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)
