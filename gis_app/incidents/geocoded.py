"""The record of how an incident reported by address only was placed on the map."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session


def record_geocoding(
    session: Session, incident_id: int, query: str, confident: bool, candidates: list[dict]
) -> None:
    """Add a 'geocoded' event: the address text, whether the place is sure, the candidates."""
    comment = "адрес найден" if confident else "адрес неоднозначен: проверьте место"
    session.execute(
        text(
            "INSERT INTO incident_events (incident_id, actor, action, comment, data)"
            " VALUES (:id, 'system', 'geocoded', :comment, CAST(:data AS jsonb))"
        ),
        {
            "id": incident_id,
            "comment": comment,
            "data": json.dumps(
                {"address_string": query, "confident": confident, "candidates": candidates},
                ensure_ascii=False,
            ),
        },
    )
