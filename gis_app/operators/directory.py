"""The directory of operators: finding one, what it serves, its contacts and webhook, and which
operator an import or edit acts for."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity, require_operator
from gis_app.errors import Forbidden, InvalidParameter, NotFound
from gis_app.layers import LayerDef
from gis_app.models import Operator


def find_operator(session: Session, ref: str | int) -> Operator:
    """An operator by id or slug; 404 naming it."""
    column = Operator.id if str(ref).isdigit() else Operator.slug
    value = int(ref) if str(ref).isdigit() else str(ref)
    found = session.scalars(select(Operator).where(column == value)).first()
    if found is None:
        raise NotFound(f"Operator '{ref}' does not exist.", code="operator_not_found", operator=ref)
    return found


def acting_operator(session: Session, identity: Identity, named: str | None) -> int:
    """The operator an import or edit acts for: staff's own; admins must name one (slug or id)."""
    if identity.role == "admin":
        if not named:
            raise InvalidParameter("operator is required for admins (its slug or id)",
                                   parameter="operator")  # fmt: skip
        return find_operator(session, named).id
    operator_id = identity.operator_id
    if named:
        operator_id = find_operator(session, named).id
    require_operator(identity, operator_id)
    return operator_id


def check_operator_serves(session: Session, operator_id: int, layer: LayerDef) -> None:
    """403 unless the operator serves the layer's utility (operator_utilities)."""
    serves = session.execute(
        text("SELECT 1 FROM operator_utilities WHERE operator_id = :o AND utility_code = :u"),
        {"o": operator_id, "u": layer.utility},
    ).first()
    if serves is None:
        raise Forbidden(
            f"Operator {operator_id} does not serve '{layer.utility}', the utility of {layer.id}.",
            code="wrong_utility", operator_id=operator_id, utility=layer.utility, layer=layer.id,
        )  # fmt: skip


def list_operators(session: Session, utility: str | None = None) -> list[dict]:
    """Operators with their utilities and dispatch contacts; only those serving `utility` if given."""
    rows = session.execute(
        text(
            """
            SELECT o.id, o.slug, o.short_name, o.full_name, o.inn, o.dispatch_phone,
                   o.dispatch_email, array_agg(ou.utility_code ORDER BY ou.utility_code) AS utilities
            FROM operators o JOIN operator_utilities ou ON ou.operator_id = o.id
            GROUP BY o.id
            HAVING CAST(:u AS text) IS NULL OR CAST(:u AS text) = ANY(array_agg(ou.utility_code))
            ORDER BY o.short_name
            """
        ),
        {"u": utility},
    ).mappings()
    return [dict(r) for r in rows]


def set_webhook(session: Session, operator_id: int, url: str | None, secret: str | None) -> bool:
    """Set (or clear, with url None) the operator's webhook; False when there is no such operator."""
    return bool(
        session.execute(
            text(
                "UPDATE operators SET webhook_url = :url, webhook_secret = :secret WHERE id = :id"
            ),
            {"url": url, "secret": secret if url else None, "id": operator_id},
        ).rowcount
    )
