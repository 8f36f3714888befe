"""Network features (lines and points of every utility) and the serving revisions kept by triggers."""

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
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base


class NetworkFeature(Base):
    """A line or point of a utility network, in one layer, owned by one operator."""

    __tablename__ = "network_features"
    __table_args__ = (
        UniqueConstraint("layer_id", "operator_id", "external_id", name="feature_external_id"),
        CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'LINESTRING', 'MULTILINESTRING', 'MULTIPOINT')",
            name="feature_geometry_type",
        ),
        # Layer and bbox together: every spatial query on features (pages, tiles, the
        # responsible operator's search, exports) filters on both (needs btree_gist).
        Index("network_features_layer_geom", "layer_id", "geom", postgresql_using="gist"),
        # A layer's features in key order, as pages are served (migration 0018): a page walks
        # its layer's keys instead of every layer's, or of sorting every match of a box.
        Index("network_features_layer_id", "layer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer_id: Mapped[str] = mapped_column(String(64))
    # Derived from the layer; no index: queries go through layer_id.
    utility_code: Mapped[str] = mapped_column(ForeignKey("utilities.code"))
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    # Typed attributes, checked against the layer's schema in layers/*.toml on every write.
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The user name of who changed the feature last (an import or an edit; migration 0005).
    updated_by: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False)


class ServingRevision(Base):
    """A served table's revision and feature count, kept by triggers (migration 0002).

    One row per layer (key = layer id) plus 'municipalities' and 'operators': the revision goes
    into ETags and tile URLs, so no cache serves data older than the last write; the count gives
    numberMatched without COUNT(*).
    """

    __tablename__ = "serving_revisions"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, server_default="0")
    feature_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
