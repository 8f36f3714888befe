"""The data model: municipalities, utilities, operators, service areas, network features, incidents.

The schema itself is created by the Alembic migrations in migrations/; these classes mirror it
(a test checks that autogenerate finds no drift). Geometries are EPSG:4326.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""


MUNICIPALITY_KINDS = (
    "oblast",
    "municipal_district",
    "municipal_okrug",
    "urban_okrug",
    "urban_settlement",
    "rural_settlement",
)
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


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Municipality(Base):
    """A municipality of the oblast: the oblast itself, its districts and okrugs, their settlements."""

    __tablename__ = "municipalities"
    __table_args__ = (
        CheckConstraint(_in("kind", MUNICIPALITY_KINDS), name="municipality_kind"),
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
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)


class Utility(Base):
    """A kind of utility service: electricity, heat, gas, water, sewerage, roads; more as data."""

    __tablename__ = "utilities"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_ru: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    color: Mapped[str] = mapped_column(String(7))
    sort_order: Mapped[int] = mapped_column(Integer, server_default="100")


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
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer_id: Mapped[str] = mapped_column(String(64))
    # Derived from the layer; no index: queries go through layer_id.
    utility_code: Mapped[str] = mapped_column(ForeignKey("utilities.code"))
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
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


class Incident(Base):
    """A reported failure: where, which utility, who must fix it and why, and its state."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("kind", INCIDENT_KINDS), name="incident_kind"),
        CheckConstraint(_in("status", INCIDENT_STATUSES), name="incident_status"),
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
        ForeignKey("municipalities.id", ondelete="SET NULL"), index=True
    )
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), index=True
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


ROLES = ("admin", "dispatcher", "operator", "planner")

user_municipalities = Table(
    "user_municipalities",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "municipality_id", ForeignKey("municipalities.id", ondelete="CASCADE"), primary_key=True
    ),
)


class User(Base):
    """A person who logs in: a role, and the operator (staff) or municipalities (dispatchers)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="user_role"),
        CheckConstraint("(role = 'operator') = (operator_id IS NOT NULL)", name="user_operator"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(Text, server_default="")
    email: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token of a user, stored as its SHA-256 (the token itself is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text, server_default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


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


IMPORT_MODES = ("replace", "upsert", "append")


class Import(Base):
    """One import of a layer file by an operator: who, when, which file and mode, the counts."""

    __tablename__ = "imports"
    __table_args__ = (
        CheckConstraint(_in("mode", IMPORT_MODES), name="import_mode"),
        CheckConstraint("status IN ('succeeded', 'failed')", name="import_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    username: Mapped[str] = mapped_column(Text)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    layer_id: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text, server_default="")
    file_format: Mapped[str] = mapped_column(String(16), server_default="")
    mode: Mapped[str] = mapped_column(String(16))
    crs: Mapped[str | None] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean, server_default="false")
    status: Mapped[str] = mapped_column(String(16))
    added: Mapped[int] = mapped_column(Integer, server_default="0")
    changed: Mapped[int] = mapped_column(Integer, server_default="0")
    removed: Mapped[int] = mapped_column(Integer, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# Single-feature edits' record (migration 0007) lives in models_edits.py; importable from here.
from gis_app.models_edits import EDIT_ACTIONS, FeatureEdit  # noqa: E402,F401

# The incident workflow's own tables (issue 5) live in models_incidents.py; importable from here.
from gis_app.models_incidents import (  # noqa: E402,F401
    DeadlineRule,
    Notification,
    PlannedOutage,
)

# Failed logins (migration 0008) live in models_login.py; importable from here.
from gis_app.models_login import LoginFailure  # noqa: E402,F401

# The network topology (migration 0014) lives in models_network.py; importable from here.
from gis_app.models_network import (  # noqa: E402,F401
    ConsumerSupply,
    NetworkDependency,
    NetworkLink,
    NetworkNode,
)
