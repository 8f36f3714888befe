"""The incident workflow's tables: incidents and their events, deadline rules, planned outages,
the notification outbox."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base, check_in

INCIDENT_KINDS = ("accident", "incident", "planned_outage")
INCIDENT_STATUSES = (
    "new",
    "assigned",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
    "duplicate",
)
NOTIFICATION_CHANNELS = ("email", "webhook")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class Incident(Base):
    """A reported failure: where, which utility, who must fix it and why, and its state."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(check_in("kind", INCIDENT_KINDS), name="incident_kind"),
        CheckConstraint(check_in("status", INCIDENT_STATUSES), name="incident_status"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="incident_priority"),
        Index("incidents_geom_idx", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), server_default="incident")
    utility_code: Mapped[str] = mapped_column(ForeignKey("utilities.code"), index=True)
    category: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(16), server_default="new", index=True)
    priority: Mapped[int] = mapped_column(Integer, server_default="3")
    reporter_contact: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="RESTRICT"), index=True
    )
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT"), index=True
    )
    feature_id: Mapped[int | None] = mapped_column(
        ForeignKey("network_features.id", ondelete="SET NULL")
    )
    # Why this operator: the rule that decided, its words, the distance and the ranked others.
    responsible_rule: Mapped[str | None] = mapped_column(String(32))
    responsible_reason: Mapped[str | None] = mapped_column(Text)
    responsible_distance_m: Mapped[float | None] = mapped_column(Float)
    responsible_candidates: Mapped[list] = mapped_column(JSONB, server_default="[]")
    responsible_layer: Mapped[str | None] = mapped_column(String(64))
    responsible_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_areas.id", ondelete="SET NULL")
    )
    responsible_computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    planned_outage_id: Mapped[int | None] = mapped_column(
        ForeignKey("planned_outages.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(16), server_default="dispatcher")
    created_by: Mapped[str | None] = mapped_column(Text)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The operator's estimated restoration time (Open311 expected_datetime).
    expected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What Open311's public reads show instead of the description; set by a dispatcher (0009).
    public_summary: Mapped[str | None] = mapped_column(Text)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    consumers_cut_off: Mapped[int | None] = mapped_column(Integer)
    social_objects_cut_off: Mapped[list] = mapped_column(JSONB, server_default="[]")
    utilities_cut_off: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    # Settlements left without supply, and which cut-off figures a trace computed (issue 16).
    settlements_cut_off: Mapped[list] = mapped_column(JSONB, server_default="[]")
    cut_off_computed: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    caused_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    supply_stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    accept_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)


class IncidentEvent(Base):
    """One change of an incident: who, when, from which status to which, and why."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")


class DeadlineRule(Base):
    """How long an operator has to accept and to resolve; the most specific matching rule wins."""

    __tablename__ = "deadline_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL in a key column matches anything; a rule naming more columns is more specific.
    utility_code: Mapped[str | None] = mapped_column(ForeignKey("utilities.code"))
    kind: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[int | None] = mapped_column(Integer)
    dead_end: Mapped[bool | None] = mapped_column(Boolean)
    accept_minutes: Mapped[int | None] = mapped_column(Integer)
    resolve_minutes: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, server_default="")
    confirmed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Migration 0013: a triage limit, and a life span (an edit retires the rule, writes a new one).
    triage_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlannedOutage(Base):
    """Planned work an operator announced: where (an area, or features buffered), from and to."""

    __tablename__ = "planned_outages"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="planned_outage_period"),
        Index("planned_outages_geom_idx", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT"), index=True
    )
    utility_code: Mapped[str] = mapped_column(ForeignKey("utilities.code"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    feature_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)


class Notification(Base):
    """One message to send (the outbox): written with the change, sent and retried by a worker."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook')", name="notification_channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="notification_status"),
        Index("notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(8), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
