"""Single-row statements on the hot paths, with the ORM's meaning and without its per-call cost.

Building a statement through the ORM (``QuerySet`` → ``Query`` → compiler → SQL) costs more
CPU than running it: in the lifecycle, each of the job's locked read, its ledger read and
its compare-and-set update cost 0.4–1 ms of Python against 0.1–0.3 ms for the round trip
(docs/benchmarks.md, *Webhooks*). These three helpers keep what the ORM decides (the SQL, the
columns, the converters, the values each field writes) and skip re-deciding it each call:

- ``insert_unless_taken``: ``INSERT … ON CONFLICT (<column>) DO NOTHING RETURNING id``
  (PostgreSQL; SQLite ≥ 3.35). Unlike ``create()`` and catching the ``IntegrityError``, a
  conflict leaves the caller's transaction usable, so it needs no savepoint; unlike
  ``bulk_create(ignore_conflicts=True)`` it says whether the row was written.
- ``PreparedRead``: a one-row read whose SQL the ORM compiles once per connection.
- ``update_row``: ``UPDATE … SET … WHERE pk = … AND <expected columns>``, each value as its
  field writes it; anything only the ORM can write (an expression, a related instance) goes
  through ``QuerySet.update``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F

M = TypeVar("M", bound=models.Model)


def insert_unless_taken(instance: models.Model, *, unique_field: str) -> bool:
    """Insert ``instance``; False when a row with its ``unique_field`` value exists (or is
    being inserted by a concurrent transaction, which PostgreSQL waits for). On True the
    instance is saved: its primary key is set."""
    meta = instance._meta
    alias = router.db_for_write(type(instance), instance=instance)
    connection = connections[alias]
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    quote = connection.ops.quote_name
    # Only the model's own quoted names are formatted in; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote(meta.get_field(unique_field).column)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = alias
    return True


# --- one-row reads ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CompiledRead:
    sql: str
    attnames: list[str]
    converters: list[tuple[int, tuple[list[Callable], Any]]]
    locks: bool


class PreparedRead(Generic[M]):
    """A read of at most one row by one value, compiled by the ORM once per connection.

    ``build(value)`` returns the queryset for ``value``: rows of its model, filtered with
    ``value`` as the query's only parameter, without joins, annotations or deferred loading
    beyond ``only()``. ``get(value, using=alias)`` runs that query's SQL and returns the
    instance the queryset would (the same columns and converters, through ``Model.from_db``),
    or None. A ``select_for_update()`` queryset is refused outside a transaction, as Django
    refuses it.
    """

    def __init__(self, build: Callable[[Any], models.QuerySet[M]], *, sample: Any = 0):
        self._build = build
        self._sample = sample  # the value the SQL is compiled with; found back as its parameter
        self._model: type[M] = build(sample).model
        self._compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _CompiledRead] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self, value: Any, *, using: str) -> M | None:
        connection = connections[using]
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compile(connection)
        if compiled.locks and connection.get_autocommit():
            raise transaction.TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [value])
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = list(row)
            for position, (converters, expression) in compiled.converters:
                converted = row[position]
                for converter in converters:
                    converted = converter(converted, expression, connection)
                row[position] = converted
        return self._model.from_db(using, compiled.attnames, row)

    def _compile(self, connection: BaseDatabaseWrapper) -> _CompiledRead:
        queryset = self._build(self._sample)
        query = queryset.query
        locks = query.select_for_update and connection.features.has_select_for_update
        # Django compiles a locking read only inside a transaction, and its SQL does not
        # depend on which: outside the caller's, compile it in a throwaway one.
        outside = locks and connection.get_autocommit()
        with transaction.atomic(using=connection.alias) if outside else nullcontext():
            compiler = query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
        if list(params) != [self._sample]:
            raise ValueError(f"a prepared read takes exactly one parameter, not {params!r}")
        klass_info = compiler.klass_info
        if (
            klass_info is None  # values(), values_list()
            or klass_info.get("related_klass_infos")
            or compiler.annotation_col_map
        ):
            raise ValueError("a prepared read selects its model's own columns only")
        selected = [column for column, _, _ in compiler.select]
        compiled = _CompiledRead(
            sql=sql,
            attnames=[column.target.attname for column in selected],
            converters=list(compiler.get_converters(selected).items()),
            locks=bool(locks),
        )
        with self._lock:
            self._compiled[connection] = compiled
        return compiled


# --- one-row updates ----------------------------------------------------------------------------


def update_row(
    model: type[models.Model],
    pk: Any,
    values: Mapping[str, Any],
    *,
    expect: Mapping[str, Any] | None = None,
    increment: Sequence[str] = (),
    using: str | None = None,
) -> int:
    """``model.objects.filter(pk=pk, **expect).update(**values, <each of increment> + 1)``
    as one hand-built statement; returns the rows matched (0 or 1).

    Each value is written as its field writes it (``get_db_prep_save``). A value only the ORM
    can write (an expression, a model instance), a relation or a field with its own
    placeholder sends the whole update through ``QuerySet.update``.
    """
    meta = model._meta
    alias = using or router.db_for_write(model)
    expect = expect or {}
    fields = _plain_fields(model, values) if values else None
    # ``= NULL`` matches nothing where the ORM's filter writes ``IS NULL``.
    expected = _plain_fields(model, expect) if None not in expect.values() else None
    if fields is None or expected is None:
        return _update_through_orm(model, pk, values, expect, increment, alias)
    connection = connections[alias]
    quote = connection.ops.quote_name
    assignments = [f"{quote(field.column)} = %s" for field in fields]
    for name in increment:
        column = quote(meta.get_field(name).column)
        assignments.append(f"{column} = {column} + 1")
    conditions = [f"{quote(meta.pk.column)} = %s"]
    conditions += [f"{quote(field.column)} = %s" for field in expected]
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    if any(hasattr(param, "as_sql") for param in params):
        # A value the field turned into an expression: let the ORM compile it.
        return _update_through_orm(model, pk, values, expect, increment, alias)
    params.append(meta.pk.get_db_prep_value(pk, connection))
    params += [field.get_db_prep_value(expect[field.name], connection) for field in expected]
    # Only the model's own quoted names are formatted in; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)}"
    )
    with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _update_through_orm(
    model: type[models.Model],
    pk: Any,
    values: Mapping[str, Any],
    expect: Mapping[str, Any],
    increment: Sequence[str],
    alias: str,
) -> int:
    return (
        model._default_manager.using(alias)
        .filter(pk=pk, **expect)
        .update(**values, **{name: F(name) + 1 for name in increment})
    )


def _plain_fields(model: type[models.Model], values: Mapping[str, Any]) -> list | None:
    """The model's own concrete, non-relation fields ``values`` names, or None when one of
    them (or its value) needs the ORM."""
    fields = []
    for name, value in values.items():
        field = model._meta.get_field(name)
        if (
            not getattr(field, "concrete", False)
            or field.is_relation
            or field.primary_key
            or field.model._meta.concrete_model is not model._meta.concrete_model
            or field.name != name
            or hasattr(field, "get_placeholder")
            or hasattr(value, "resolve_expression")
            or hasattr(value, "prepare_database_save")
        ):
            return None
        fields.append(field)
    return fields
