"""The failed-login record (migration 0008), kept apart from models.py, which re-exports it.

The limits of gis_app/login_limits.py count these rows, so every gunicorn worker sees the same
failures. The user name is kept as typed (lower-cased), with no key to users: unknown names are
counted the same way, and a row outlives the user.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from gis_app.models import Base


class LoginFailure(Base):
    """One failed password check: the user name as typed (lower-cased), the client address, when."""

    __tablename__ = "login_failures"
    __table_args__ = (
        # The two look-ups (the newest failures of a name, of an address) and the pruning by age.
        Index("login_failures_username_at", "username", "failed_at"),
        Index("login_failures_address_at", "address", "failed_at"),
        Index("login_failures_at", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
