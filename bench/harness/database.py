"""The PostgreSQL database a run creates and drops, Django's setup, and statement counts."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
EXAMPLE = "DATABASE_URL=postgres://postgres@127.0.0.1:5432/videogen_bench"


def database_url(script: str, name: str | None = None) -> str:
    """The URL of the database a run creates and drops, on ``DATABASE_URL``'s server:
    ``name`` when given, else the database ``DATABASE_URL`` names if that name contains
    "bench", else ``videogen_bench_<script>``. Exits with an example unless ``DATABASE_URL``
    is PostgreSQL's, and refuses a name without "bench" (the run drops it)."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        sys.exit(f"DATABASE_URL must point at a PostgreSQL server, e.g.\n  {EXAMPLE} ...")
    named = parts.path.lstrip("/")
    name = name or (named if "bench" in named else f"videogen_bench_{script}")
    if "bench" not in name:
        sys.exit(f"refusing to drop and re-create {name!r}: use a database named like *bench*")
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _drop_and_create(url: str, *, create: bool) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    server = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    database = sql.Identifier(database_name(url))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(database))


@contextlib.contextmanager
def fresh_database(url: str, *, keep: bool = False, reuse: bool = False) -> Iterator[str]:
    """Drop and create the database of ``url`` (unless ``reuse``), yield the URL, then close
    Django's connections and drop it (unless ``keep`` or ``reuse``), even on an error."""
    if not reuse:
        _drop_and_create(url, create=True)
    try:
        yield url
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not (keep or reuse):
            with contextlib.suppress(Exception):
                _drop_and_create(url, create=False)


def set_videogen_overrides(**values: Any) -> None:
    """Merge ``values`` into ``VIDEOGEN_OVERRIDES`` (read by project/settings.py), in this
    process's environment, so that the site processes a run starts get them too."""
    current = json.loads(os.environ.get("VIDEOGEN_OVERRIDES") or "{}")
    os.environ["VIDEOGEN_OVERRIDES"] = json.dumps({**current, **values})


def setup_django(
    database_url: str | None = None, *, production: bool = True, migrate: bool = True
) -> None:
    """``django.setup()`` with ``project.settings`` on ``database_url`` (else ``DATABASE_URL``
    as it is), then ``migrate`` unless told not to.

    ``production``: ``DJANGO_DEBUG=0`` unless set (no per-query log, as in production).
    ``DJANGO_SECRET_KEY`` is made random unless set, in the environment, so the processes a
    run starts share it (django-q2 signs tasks with it). django-q's INFO line per enqueued
    task is silenced.
    """
    if database_url is not None:
        os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    if production:
        os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

    import django

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def statement_verb(sql: str) -> str:
    """``SELECT``, ``SELECT … FOR UPDATE``, ``INSERT``, ``RELEASE SAVEPOINT``…"""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb == "SELECT" and "FOR UPDATE" in sql:
        return "SELECT … FOR UPDATE"
    if verb == "RELEASE":
        return "RELEASE SAVEPOINT"
    return verb


def count_verbs(statements: Iterable[str]) -> Counter[str]:
    return Counter(statement_verb(sql) for sql in statements)


class QueryLog:
    """A ``connection.execute_wrapper``: statements by verb, rows written, seconds spent in
    the driver; with ``keep``, every ``(sql, params)`` too. (BEGIN and COMMIT do not pass
    through it: count them with ``CaptureQueriesContext``.)"""

    def __init__(self, *, keep: bool = False) -> None:
        self.statements: Counter[str] = Counter()
        self.rows_written = 0
        self.seconds = 0.0
        self.kept: list[tuple[str, Any]] | None = [] if keep else None

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: dict):
        verb = statement_verb(sql)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements[verb] += 1
            if verb in ("INSERT", "UPDATE", "DELETE"):
                self.rows_written += max(0, context["cursor"].rowcount)
            if self.kept is not None:
                self.kept.append((sql, params))

    def count(self, *verbs: str) -> int:
        """Statements of these verbs (``"SELECT"`` includes ``SELECT … FOR UPDATE``)."""
        return sum(n for v, n in self.statements.items() if v.split(" …")[0] in verbs)

    @property
    def writes(self) -> int:
        return self.count("INSERT", "UPDATE", "DELETE")


def insert_select(model: type, expressions: dict[str, str], source: str) -> tuple[str, list]:
    """``INSERT INTO <model's table> (…) SELECT … FROM <source>``, for loading millions of
    rows generated by PostgreSQL itself (``generate_series``), with its parameters.

    Columns named in ``expressions`` get that SQL; any other NOT NULL column gets the field's
    Python default (so a column added later does not break the loader); nullable ones stay
    NULL.
    """
    from django.db import connection

    columns, selects, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.column in expressions:
            columns.append(f.column)
            selects.append(expressions[f.column])
        elif not f.null:
            default = f.get_default()  # "" for blank string fields without a default
            if default is None:
                raise RuntimeError(f"no value for NOT NULL {model.__name__}.{f.name}")
            columns.append(f.column)
            selects.append("%s")
            params.append(f.get_db_prep_save(default, connection))
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)} FROM {source}"
    return sql, params
