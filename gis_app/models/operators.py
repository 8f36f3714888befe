"""Operators (utility organisations), what they serve and where, and their service areas."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base

operator_utilities = Table(
    "operator_utilities",
    Base.metadata,
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column("utility_code", ForeignKey("utilities.code"), primary_key=True),
)

operator_municipalities = Table(
    "operator_municipalities",
    Base.metadata,
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "municipality_id", ForeignKey("municipalities.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Operator(Base):
    """A utility organisation: who owns networks and answers incidents."""

    __tablename__ = "operators"
    __table_args__ = (CheckConstraint("inn ~ '^([0-9]{10}|[0-9]{12})$'", name="operator_inn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    short_name: Mapped[str] = mapped_column(Text)
    inn: Mapped[str | None] = mapped_column(String(12), unique=True)
    dispatch_phone: Mapped[str | None] = mapped_column(Text)
    dispatch_email: Mapped[str | None] = mapped_column(Text)
    # Where incident notifications are POSTed, signed with HMAC-SHA256 of the secret (issue 5).
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Retired: no longer routed to; its open incidents went to `handed_over_to` (migration 0010).
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_reason: Mapped[str | None] = mapped_column(Text)
    handed_over_to: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT")
    )


class DesignatedOperator(Base):
    """The operator a municipality designates for a utility: the last rule before 'unresolved'."""

    __tablename__ = "designated_operators"

    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), primary_key=True
    )
    utility_code: Mapped[str] = mapped_column(ForeignKey("utilities.code"), primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )


class ServiceArea(Base):
    """An operator's zone of responsibility for one utility."""

    __tablename__ = "service_areas"
    __table_args__ = (Index("service_areas_geom_idx", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    utility_code: Mapped[str] = mapped_column(ForeignKey("utilities.code"), index=True)
    name: Mapped[str] = mapped_column(Text)
    # Higher wins among areas of equal specificity; see the responsible-operator rules.
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
