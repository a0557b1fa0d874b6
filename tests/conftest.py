"""Shared fixtures. PostgreSQL-only tests are marked ``postgres``: skipped on SQLite, and
required (a skip fails the run) when VIDEOGEN_REQUIRE_POSTGRES=1, as in CI's second pass."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

pytest_plugins = ["tests.fixtures_simulator", "tests.fixtures_app", "tests.canned_api"]

REQUIRE_POSTGRES = os.environ.get("VIDEOGEN_REQUIRE_POSTGRES") == "1"


def _is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory):
    """SQLite tests use a file, not shared memory: an in-memory test database makes Django
    share ONE connection between a live server's thread and the test's, so a test could read
    another thread's transaction half-done (and their transactions would interleave). With a
    file each thread has its own connection, as in production."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(path)


@pytest.fixture(autouse=True)
def _media_in_a_temporary_folder(settings, tmp_path_factory):
    """Files a test stores (outputs, data: media of requests) never land in the checkout."""
    settings.MEDIA_ROOT = tmp_path_factory.getbasetemp() / "media"


def pytest_collection_modifyitems(config, items):
    if _is_postgres():
        return
    if REQUIRE_POSTGRES:
        raise pytest.UsageError(
            "VIDEOGEN_REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL"
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    # In CI's PostgreSQL pass every test must run: a skip there means a hidden gap.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_POSTGRES and reporter is not None and reporter.stats.get("skipped"):
        reporter.write_line("FAILED: tests were skipped in the required PostgreSQL run", red=True)
        session.exitstatus = 1
