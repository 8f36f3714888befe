"""Who may act where, beyond the role matrix: an organisation's utilities and municipalities.

The role matrix says a dispatcher may assign and an operator may announce work; these rules say
for what. An operator announces planned outages only of a utility it serves (operator_utilities)
over an area that meets a municipality it works in (operator_municipalities), for a bounded
period that does not start long ago (admins may exceed the period limits, never the remit);
an incident goes only to an operator that serves its utility; a dispatcher links a report only
to an incident of their own municipalities; operator staff set the restoration time only once
they have accepted the incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis_app.accounts.identity import Identity
from gis_app.errors import Forbidden, InvalidParameter

# Statuses in which the assigned operator's staff may change expected_at (they own the work).
EXPECTED_AT_STATUSES = ("accepted", "in_progress")


@dataclass(frozen=True)
class OutageLimits:
    """How long a planned outage may last (days) and how long ago it may start (hours)."""

    max_days: int = 14
    max_past_hours: int = 24

    @classmethod
    def from_config(cls, config: dict) -> OutageLimits:
        """The limits of an app's config (GIS_APP_MAX_OUTAGE_DAYS, GIS_APP_OUTAGE_MAX_PAST_HOURS)."""
        return cls(
            max_days=int(config.get("GIS_APP_MAX_OUTAGE_DAYS", cls.max_days)),
            max_past_hours=int(config.get("GIS_APP_OUTAGE_MAX_PAST_HOURS", cls.max_past_hours)),
        )


def serves_utility(session: Session, operator_id: int, utility: str) -> bool:
    """True when the operator takes this utility (operator_utilities)."""
    return bool(
        session.execute(
            text("SELECT 1 FROM operator_utilities WHERE operator_id = :o AND utility_code = :u"),
            {"o": operator_id, "u": utility},
        ).first()
    )


def check_outage_period(
    actor: Identity, starts: datetime, ends: datetime, limits: OutageLimits
) -> None:
    """400 when the period is longer than allowed or starts too long ago (admins exempt)."""
    if actor.role == "admin":
        return
    if ends - starts > timedelta(days=limits.max_days):
        raise InvalidParameter(
            f"ends_at: a planned outage lasts at most {limits.max_days} days; "
            "an administrator may announce a longer one.",
            code="outage_too_long",
            field="ends_at",
            max_days=limits.max_days,
        )
    if starts < datetime.now(UTC) - timedelta(hours=limits.max_past_hours):
        raise InvalidParameter(
            f"starts_at: a planned outage may start at most {limits.max_past_hours} hours ago; "
            "an administrator may record an older one.",
            code="outage_in_the_past",
            field="starts_at",
            max_past_hours=limits.max_past_hours,
        )


def check_outage_utility(session: Session, operator_id: int, utility: str) -> None:
    """403 when the operator does not serve the utility of the announced outage."""
    if not serves_utility(session, operator_id, utility):
        raise Forbidden(
            f"Operator {operator_id} does not serve the utility '{utility}'; "
            "it may announce outages only of the utilities it serves.",
            code="utility_not_served",
            operator_id=operator_id,
            utility=utility,
        )


def check_outage_area(session: Session, operator_id: int, geom_sql: str, params: dict) -> None:
    """403 when the outage's area meets none of the operator's municipalities.

    `geom_sql` is an expression written by the caller (never client text) over bound `params`.
    """
    # text(): the area expression is the caller's own SQL; every value stays bound.
    inside = session.execute(
        text(
            f"""SELECT EXISTS (
                SELECT 1 FROM operator_municipalities om
                JOIN municipalities m ON m.id = om.municipality_id
                WHERE om.operator_id = :remit_op AND ST_Intersects(m.geom, g.geom))
            FROM (SELECT {geom_sql} AS geom) g"""
        ),
        {**params, "remit_op": operator_id},
    ).scalar_one()
    if not inside:
        raise Forbidden(
            f"The area lies outside every municipality operator {operator_id} works in.",
            code="outside_operator_municipalities",
            operator_id=operator_id,
        )


def check_assignee(session: Session, operator_id: int, utility: str) -> None:
    """400 when the operator an incident is (re)assigned to does not serve its utility."""
    if not serves_utility(session, operator_id, utility):
        raise InvalidParameter(
            f"operator_id: operator {operator_id} does not serve the utility '{utility}' "
            "of this incident.",
            code="utility_not_served",
            field="operator_id",
            operator_id=operator_id,
            utility=utility,
        )


def check_duplicate_target(actor: Identity, master_id: int, municipality_id: int | None) -> None:
    """403 when a dispatcher links a report to an incident outside their municipalities."""
    if not actor.can_see_municipality(municipality_id):
        raise Forbidden(
            f"duplicate_of: incident {master_id} is outside your municipalities.",
            code="not_your_municipality",
            field="duplicate_of",
            duplicate_of=master_id,
        )


def check_expected_at(actor: Identity, status: str) -> None:
    """403 when operator staff set expected_at before accepting (or after resolving)."""
    if actor.role == "operator" and status not in EXPECTED_AT_STATUSES:
        raise Forbidden(
            f"expected_at is set by the operator's staff once they have accepted the incident "
            f"(it is {status}).",
            code="not_accepted",
            field="expected_at",
            status=status,
        )
