"""Fixtures of the KPI tests: the hand-made history of history.py, written in the test's
transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kpi import history


@pytest.fixture
def operators(session) -> dict[str, int]:
    """Operator A (demo Gatchina water company) and B (demo gas company), by letter."""
    ids = dict(
        session.execute(
            text(
                "SELECT slug, id FROM operators"
                " WHERE slug IN ('demo-vodokanal-gatchina', 'demo-gazraspredelenie')"
            )
        ).all()
    )
    return {"A": ids["demo-vodokanal-gatchina"], "B": ids["demo-gazraspredelenie"]}


@pytest.fixture
def made(session, operators) -> dict[str, history.Case]:
    """The history, written; by case name."""
    return history.insert(session, operators)
