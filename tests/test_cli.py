"""The gis-app commands: each prints a one-line summary and fails with a non-zero code."""

from __future__ import annotations

import pytest
from helpers import recreate_database
from sqlalchemy.engine import make_url

from gis_app import config, create_app, migrate
from gis_app.cli import main


def test_layers_check_and_list(runner):
    result = runner.invoke(main, ["layers", "check"])
    assert result.exit_code == 0, result.output
    files = sorted((config.PROJECT_ROOT / "layers").glob("*.toml"))
    assert len(files) >= 11 and f"{len(files)} layer files OK" in result.output
    listing = runner.invoke(main, ["layers", "list"])
    assert "water_mains" in listing.output and "Водопроводные сети" in listing.output


@pytest.fixture(scope="module")
def scratch_app(postgis_url):
    """An app on a database of its own, so reloading the demo leaves the shared one alone."""
    url = make_url(config.sqlalchemy_url(postgis_url))
    url = url.set(database=f"{url.database}_cli").render_as_string(hide_password=False)
    recreate_database(url)
    migrate.upgrade(url)
    # A revoked token must be refused at the next request: no remembered identities.
    return create_app({"DATABASE_URL": url, "TESTING": True, "GIS_APP_AUTH_CACHE_S": 0})


def test_demo_load_command_twice(scratch_app):
    runner = scratch_app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(main, ["demo", "load"])
        assert result.exit_code == 0, result.output
        assert "demo data loaded" in result.output and "15150 network_features" in result.output


def test_users_and_tokens_commands(scratch_app):
    runner = scratch_app.test_cli_runner()
    runner.invoke(main, ["demo", "load"])
    made = runner.invoke(
        main,
        [
            "users",
            "create",
            "ivanova",
            "--role",
            "dispatcher",
            "--municipality",
            "gatchina",
            "--password-stdin",
        ],
        input="secret-password\n",
    )
    assert made.exit_code == 0, made.output
    token = runner.invoke(main, ["tokens", "create", "ivanova"]).output.strip()
    assert token.startswith("gis_") and "\n" not in token  # the token alone, for scripts
    me = scratch_app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["role"] == "dispatcher"
    listing = runner.invoke(main, ["users", "list"]).output
    assert "ivanova" in listing and "gatchina" in listing
    # Bad input: a clear message and a non-zero exit, nothing created.
    bad = runner.invoke(
        main,
        ["users", "create", "petrov", "--role", "operator", "--password-stdin"],
        input="secret-password\n",
    )
    assert bad.exit_code != 0 and "--operator" in bad.output
    short = runner.invoke(
        main,
        ["users", "create", "petrov", "--role", "planner", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "at least 8" in short.output
    assert "petrov" not in runner.invoke(main, ["users", "list"]).output
    assert runner.invoke(main, ["tokens", "create", "nobody"]).exit_code != 0
    token_id = runner.invoke(main, ["tokens", "list"]).output.split()[0]
    assert runner.invoke(main, ["tokens", "revoke", token_id]).exit_code == 0
    gone = scratch_app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


def test_localdb_url_prints_the_database(runner, monkeypatch, postgis_url):
    monkeypatch.setenv("DATABASE_URL", postgis_url)
    result = runner.invoke(main, ["localdb", "url"])
    assert result.exit_code == 0 and result.output.strip() == postgis_url
    started = runner.invoke(main, ["localdb", "start"])
    assert "DATABASE_URL is set" in started.output
