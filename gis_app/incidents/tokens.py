"""Signed, expiring links for a reporter (no account): confirm a fix, or reopen it, and rate it."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gis_app.errors import AppError, NotFound

SALT = "incident-feedback"


class LinkExpired(AppError):
    """The reporter's link is older than its life (410)."""

    status = 410
    code = "link_expired"


def make_token(secret: str, incident_id: int, resolve_event_id: int) -> str:
    """A URL-safe token naming the incident and the resolution it asks about."""
    return URLSafeTimedSerializer(secret, salt=SALT).dumps(
        {"i": incident_id, "e": resolve_event_id}
    )


def read_token(secret: str, token: str, max_age_days: int) -> tuple[int, int]:
    """(incident id, resolution event id) of a token; 404 when forged, 410 when expired."""
    serializer = URLSafeTimedSerializer(secret, salt=SALT)
    try:
        data = serializer.loads(token, max_age=max_age_days * 86400)
    except SignatureExpired:
        raise LinkExpired("This link has expired.", max_age_days=max_age_days) from None
    except BadSignature:
        raise NotFound("This link is not valid.", code="invalid_link") from None
    return int(data["i"]), int(data["e"])
