"""bench/harness/database.py: which database a benchmark run creates and drops."""

from __future__ import annotations

import pytest

from bench.harness.database import database_url

SERVER = "postgres://postgres@127.0.0.1:5432"


def test_the_database_url_names_is_used_when_its_name_says_bench(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"{SERVER}/videogen_bench_report")

    assert database_url("report") == f"{SERVER}/videogen_bench_report"


def test_a_url_naming_another_database_gets_the_scripts_own_bench_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"{SERVER}/videogen")

    assert database_url("webhooks") == f"{SERVER}/videogen_bench_webhooks"


def test_the_database_option_wins(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"{SERVER}/videogen_bench")

    assert database_url("reconcile", "videogen_bench_alice") == f"{SERVER}/videogen_bench_alice"


def test_a_database_to_drop_must_be_named_like_bench(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"{SERVER}/videogen_bench")

    with pytest.raises(SystemExit, match="refusing to drop and re-create 'videogen'"):
        database_url("reconcile", "videogen")


@pytest.mark.parametrize("url", ["", "sqlite:///db.sqlite3"])
def test_postgresql_is_required(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(SystemExit, match="DATABASE_URL must point at a PostgreSQL server"):
        database_url("report")
