"""Accounts: users, their API tokens, and the failed-login record of the login limits
(gis_app/accounts/login_limits.py counts those rows, so every worker sees the same failures)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
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

from gis_app.models.base import Base, check_in

ROLES = ("admin", "dispatcher", "operator", "planner")

user_municipalities = Table(
    "user_municipalities",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "municipality_id", ForeignKey("municipalities.id", ondelete="RESTRICT"), primary_key=True
    ),
)


class User(Base):
    """A person who logs in: a role, and the operator (staff) or municipalities (dispatchers)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(check_in("role", ROLES), name="user_role"),
        CheckConstraint("(role = 'operator') = (operator_id IS NOT NULL)", name="user_operator"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(Text, server_default="")
    email: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    is_demo: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped by logout and a password change: older session cookies stop working (0009).
    session_version: Mapped[int] = mapped_column(Integer, server_default="1")
    # Set when an admin sets the password: the next login must change it first (0019).
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default="false")


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
