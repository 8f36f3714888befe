"""The record of single-feature edits (OGC API - Features Part 4): who changed which feature how.

Kept apart from models.py (which re-exports it) as models_incidents.py is; migration 0007
creates the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models import Base

EDIT_ACTIONS = ("create", "replace", "update", "delete")


class FeatureEdit(Base):
    """One create, replace, update or delete of one feature, written with the edit itself."""

    __tablename__ = "feature_edits"
    __table_args__ = (
        CheckConstraint(
            "action IN ('create', 'replace', 'update', 'delete')", name="feature_edit_action"
        ),
        # A delete keeps what it removed (to see or restore it); the other actions keep nothing.
        CheckConstraint(
            "(action = 'delete') = (removed_feature IS NOT NULL)", name="feature_edit_removed"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    username: Mapped[str] = mapped_column(Text)
    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT"), index=True
    )
    layer_id: Mapped[str] = mapped_column(String(64))
    # Not a foreign key: the record of a deleted feature outlives it.
    feature_id: Mapped[int] = mapped_column(BigInteger, index=True)
    external_id: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    # For a delete: the removed feature as a GeoJSON Feature (EPSG:4326), properties and geometry.
    # none_as_null: None is SQL NULL (the check above), not the JSON value null.
    removed_feature: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
