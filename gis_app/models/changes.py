"""The record of admin changes (who, when, what, before/after): operators, their utilities and
municipalities, service areas, designations, municipalities, utilities. Migration 0010."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models.base import Base


class AdminChange(Base):
    """One change an admin (or an import, or the CLI) made to the oblast's set-up."""

    __tablename__ = "admin_changes"
    __table_args__ = (Index("ix_admin_changes_entity", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    username: Mapped[str] = mapped_column(Text)
    # What changed: 'operator', 'service_area', 'designation', 'municipality', 'utility'.
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
    after: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
    comment: Mapped[str | None] = mapped_column(Text)
