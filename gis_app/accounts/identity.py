"""Who is acting: the Identity of an authenticated user, the roles, and the organisation check.

Flask-free, so the domain rules (incidents, imports, edits) take an Identity as a plain argument;
gis_app/web/access.py makes one per request.
"""

from __future__ import annotations

from dataclasses import dataclass

from gis_app.errors import Forbidden
from gis_app.models import ROLES

__all__ = ["ROLES", "Identity", "require_operator"]


@dataclass(frozen=True)
class Identity:
    """An authenticated user: role, the operator of operator staff, a dispatcher's municipalities
    (every municipality in their charge, descendants included; None: the whole oblast)."""

    user_id: int | None
    username: str
    role: str
    operator_id: int | None = None
    municipality_ids: tuple[int, ...] | None = None
    # An admin set the password: this login must change it before anything else (web/access.py).
    must_change_password: bool = False

    def can_see_municipality(self, municipality_id: int | None) -> bool:
        """True when the municipality is in this user's charge (always, but for dispatchers)."""
        if self.role != "dispatcher" or self.municipality_ids is None:
            return True
        return municipality_id in self.municipality_ids


def require_operator(identity: Identity, operator_id: int) -> None:
    """Operator staff may act only for their own organisation (admins for any)."""
    if identity.role == "admin":
        return
    if identity.role != "operator" or identity.operator_id != operator_id:
        raise Forbidden(
            "Only the operator's own staff may do this.",
            code="not_your_operator",
            operator_id=operator_id,
        )
