"""The network topology's tables (migration 0014): nodes, links of features to nodes, consumers'
supplying features and the dependencies of one utility's features on another's."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base

LINK_ROLES = ("line", "source", "device", "point")


class NetworkNode(Base):
    """A place where line ends and points of one utility meet (within the layers' tolerance)."""

    __tablename__ = "network_nodes"
    # The position alone (migration 0022): a GiST entry with the utility too (btree_gist) made
    # inserting an import's new nodes three times slower; readers filter the utility after.
    __table_args__ = (Index("network_nodes_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    utility_code: Mapped[str] = mapped_column(String(32))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)


class NetworkLink(Base):
    """A feature in the topology: a line between two nodes, or a point at one node. A line that
    others meet in its middle (a T-junction) has one link per part between its nodes."""

    __tablename__ = "network_links"
    __table_args__ = (
        CheckConstraint("role IN ('line', 'source', 'device', 'point')", name="network_link_role"),
        Index("network_links_node_a", "node_a"),
        Index("network_links_node_b", "node_b"),
    )

    # No foreign key to network_nodes: a rebuild replaces both tables, and an import of 200,000
    # features should not pay a check per row; nodes without links are removed by the upkeep.
    # No foreign key to network_features either (migration 0015): its check cost an import of
    # 200,000 lines 2 s; a statement trigger on network_features deletes the links of the
    # features deleted (network_features_forget_links), one join per statement.
    feature_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # 0 for a whole line or a point; 0, 1, ... along a line split at the nodes on its middle.
    part: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="0")
    # No index: traces go by node; only the report filters by utility (a rare full scan).
    utility_code: Mapped[str] = mapped_column(String(32))
    layer_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    node_a: Mapped[int] = mapped_column(BigInteger)
    node_b: Mapped[int | None] = mapped_column(BigInteger)
    length_m: Mapped[float] = mapped_column(Float, server_default="0")
    # A device's state, copied from its attributes at each (re)link, so a trace reads one table.
    closed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    operable: Mapped[bool] = mapped_column(Boolean, server_default="true")


class ConsumerSupply(Base):
    """Which network feature supplies a consumer with one utility (nearest line, or named)."""

    __tablename__ = "consumer_supplies"

    consumer_id: Mapped[int] = mapped_column(
        ForeignKey("network_features.id", ondelete="CASCADE"), primary_key=True
    )
    utility_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    feature_id: Mapped[int] = mapped_column(
        ForeignKey("network_features.id", ondelete="CASCADE"), index=True
    )
    distance_m: Mapped[float] = mapped_column(Float)


class NetworkDependency(Base):
    """A feature of one utility needs a feature of another (a boiler house needs a gas node)."""

    __tablename__ = "network_dependencies"

    dependent_id: Mapped[int] = mapped_column(
        ForeignKey("network_features.id", ondelete="CASCADE"), primary_key=True
    )
    supplier_id: Mapped[int] = mapped_column(
        ForeignKey("network_features.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
