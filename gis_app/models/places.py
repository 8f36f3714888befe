"""Municipalities (the oblast, its districts and okrugs, their settlements) and utilities."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base, check_in

MUNICIPALITY_KINDS = (
    "oblast",
    "municipal_district",
    "municipal_okrug",
    "urban_okrug",
    "urban_settlement",
    "rural_settlement",
)


class Municipality(Base):
    """A municipality of the oblast: the oblast itself, its districts and okrugs, their settlements."""

    __tablename__ = "municipalities"
    __table_args__ = (
        CheckConstraint(check_in("kind", MUNICIPALITY_KINDS), name="municipality_kind"),
        Index("municipalities_geom_idx", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    oktmo: Mapped[str | None] = mapped_column(String(11), unique=True)
    name_ru: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # A retired unit keeps its row (accounts, incidents and history point at it) but no longer
    # answers "which municipality is here" (migration 0010).
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_reason: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)


class Utility(Base):
    """A kind of utility service: electricity, heat, gas, water, sewerage, roads; more as data."""

    __tablename__ = "utilities"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ru: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    color: Mapped[str] = mapped_column(String(7))
    sort_order: Mapped[int] = mapped_column(Integer, server_default="100")
