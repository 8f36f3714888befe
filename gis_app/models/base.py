"""The declarative base of every table, and a helper for CHECK constraints.

The schema itself is created by the Alembic migrations in migrations/; the model modules mirror it
(a test checks that autogenerate finds no drift). Geometries are EPSG:4326.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every table."""


def check_in(column: str, values: tuple[str, ...]) -> str:
    """SQL of a CHECK that `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
