"""Tables of the address search (issue 13): imports (generations), streets, addresses.

Every import writes a new generation and makes it current in the same transaction, so searches
never see a half-loaded or empty set. Migration 0011 creates them (and address_names), pg_trgm and the two SQL
normalisers (gis_street_norm, gis_housenumber_norm) that gis_app/addresses/normalize.py mirrors.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base

ADDRESS_KINDS = ("building", "point")


class AddressGeneration(Base):
    """One import of addresses; exactly one is current (the one searches read)."""

    __tablename__ = "address_generations"
    __table_args__ = (
        Index(
            "address_generations_one_current",
            "is_current",
            unique=True,
            postgresql_where="is_current",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(Boolean, server_default="false")
    streets: Mapped[int] = mapped_column(Integer, server_default="0")
    addresses: Mapped[int] = mapped_column(Integer, server_default="0")
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AddressStreet(Base):
    """A named street of one settlement: its name, normalised key and geometry (lines or houses)."""

    __tablename__ = "address_streets"
    __table_args__ = (
        Index("address_streets_norm", "generation", "norm"),
        Index("address_streets_generation", "generation"),
        Index("address_streets_geom_idx", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    generation: Mapped[int] = mapped_column(
        ForeignKey("address_generations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(Text)
    norm: Mapped[str] = mapped_column(Text)
    # улица, переулок, проспект…: "улица Маркса" and "переулок Маркса" are two streets.
    kind: Mapped[str] = mapped_column(Text, server_default="")
    settlement_norm: Mapped[str] = mapped_column(Text, server_default="")
    settlement: Mapped[str | None] = mapped_column(Text)
    settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="SET NULL")
    )
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="SET NULL")
    )
    geom = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False)


class AddressName(Base):
    """The distinct normalised names of one generation (streets, settlements): the small
    dictionary fuzzy matching runs on, so a name shared by 300 villages is compared once."""

    __tablename__ = "address_names"
    __table_args__ = (
        CheckConstraint("kind IN ('street', 'settlement')", name="address_name_kind"),
        Index(
            "address_names_trgm",
            "norm",
            postgresql_using="gin",
            postgresql_ops={"norm": "gin_trgm_ops"},
        ),
    )

    generation: Mapped[int] = mapped_column(
        ForeignKey("address_generations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    norm: Mapped[str] = mapped_column(Text, primary_key=True)


class Address(Base):
    """A building or address point with a house number on a street (its position: a point)."""

    __tablename__ = "addresses"
    __table_args__ = (
        CheckConstraint("kind IN ('building', 'point')", name="address_kind"),
        Index("addresses_street_number", "street_id", "housenumber_norm"),
        Index("addresses_geom_idx", "geom", postgresql_using="gist"),
        Index("addresses_generation", "generation"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    generation: Mapped[int] = mapped_column(
        ForeignKey("address_generations.id", ondelete="CASCADE")
    )
    street_id: Mapped[int] = mapped_column(ForeignKey("address_streets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    osm_id: Mapped[str | None] = mapped_column(Text)
    housenumber: Mapped[str] = mapped_column(Text)
    housenumber_norm: Mapped[str] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
