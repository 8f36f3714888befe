"""Tables of accountability (migration 0013): the escalation ladder as data, the terms an incident
was created under, and the per-incident KPI facts kept from its events.

"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base

ESCALATION_TARGETS = ("operator", "municipal", "regional")


class EscalationRule(Base):
    """One step of the ladder: who is told, how long after a deadline passed; a rule with a
    utility or priority beats the general one at the same level. Edits retire the old row."""

    __tablename__ = "escalation_rules"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 3", name="escalation_level"),
        CheckConstraint(
            "target IN ('operator', 'municipal', 'regional')", name="escalation_target"
        ),
        CheckConstraint("after_minutes >= 0", name="escalation_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    utility_code: Mapped[str | None] = mapped_column(ForeignKey("utilities.code"))
    priority: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(16))
    after_minutes: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentTerms(Base):
    """The deadline rule and ladder an incident was created under, and how far it has climbed."""

    __tablename__ = "incident_terms"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    deadline_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("deadline_rules.id", ondelete="SET NULL")
    )
    accept_minutes: Mapped[int | None] = mapped_column(Integer)
    resolve_minutes: Mapped[int | None] = mapped_column(Integer)
    triage_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ladder: Mapped[list] = mapped_column(JSONB, server_default="[]")
    escalation_level: Mapped[int] = mapped_column(Integer, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentKpiFacts(Base):
    """One incident's KPI facts, derived from its events by the view kpi_facts_from_events and
    refreshed by a trigger on incident_events (migration 0013); never written by hand."""

    __tablename__ = "incident_kpi_facts"
    __table_args__ = (Index("incident_kpi_facts_received", "received_at"),)

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    operator_id: Mapped[int | None] = mapped_column(Integer)
    municipality_id: Mapped[int | None] = mapped_column(Integer)
    utility_code: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    clock_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str | None] = mapped_column(String(16))
    reopens: Mapped[int] = mapped_column(Integer, server_default="0")
    is_duplicate: Mapped[bool] = mapped_column(Boolean, server_default="false")
    accept_limit_min: Mapped[int | None] = mapped_column(Integer)
    resolve_limit_min: Mapped[int | None] = mapped_column(Integer)
    # Seconds from assignment to acceptance; from the clock's start to the final resolution,
    # less the time waiting on a planned outage (waiting_s).
    accept_s: Mapped[float | None] = mapped_column(Float)
    resolve_s: Mapped[float | None] = mapped_column(Float)
    waiting_s: Mapped[float | None] = mapped_column(Float)
    consumers: Mapped[int] = mapped_column(Integer, server_default="0")
    social_objects: Mapped[int] = mapped_column(Integer, server_default="0")
    accept_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The reporter's last rating of a fix (1–5), from their feedback.
    rating: Mapped[int | None] = mapped_column(Integer)


class KpiSummary(Base):
    """A whole KPI report of a calendar year or month for the oblast (gis_app/kpi/summaries.py):
    made by the worker, marked stale by the facts trigger when an incident of the period
    changes."""

    __tablename__ = "kpi_summaries"

    group_by: Mapped[str] = mapped_column(String(16), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stale: Mapped[bool] = mapped_column(Boolean, server_default="false")
    body: Mapped[dict] = mapped_column(JSONB)


__all__ = [
    "ESCALATION_TARGETS",
    "EscalationRule",
    "IncidentKpiFacts",
    "IncidentTerms",
    "KpiSummary",
]
