"""The gis-app commands: each prints a one-line summary and fails with a non-zero code."""

from __future__ import annotations

from gis_app.cli import main


def test_layers_check_and_list(runner):
    result = runner.invoke(main, ["layers", "check"])
    assert result.exit_code == 0, result.output
    assert "11 layer files OK" in result.output or "layer files OK" in result.output
    listing = runner.invoke(main, ["layers", "list"])
    assert "water_mains" in listing.output and "Водопроводные сети" in listing.output


def test_demo_load_command(runner, postgis_url):
    result = runner.invoke(main, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "demo data loaded" in result.output and "network_features" in result.output


def test_localdb_url_prints_the_database(runner, monkeypatch, postgis_url):
    monkeypatch.setenv("DATABASE_URL", postgis_url)
    result = runner.invoke(main, ["localdb", "url"])
    assert result.exit_code == 0 and result.output.strip() == postgis_url
    started = runner.invoke(main, ["localdb", "start"])
    assert "DATABASE_URL is set" in started.output
