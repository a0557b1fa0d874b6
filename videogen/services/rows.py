"""Single-row statements on the hot paths, with the ORM's meaning and without its per-call cost.

Building a statement through the ORM (``QuerySet`` → ``Query`` → compiler → SQL) costs more
CPU than running it: the lifecycle's three statements on one job (its locked read, its ledger
read, its compare-and-set update) took close to half of a first webhook delivery's
instructions in process (docs/benchmarks.md, *Webhooks*). These helpers keep what the ORM
decides (the SQL, the columns, the converters, the values each field writes) and skip
re-deciding it each call:

- ``insert_unless_taken``: ``INSERT … ON CONFLICT (<column>) DO NOTHING RETURNING id``
  (PostgreSQL; SQLite ≥ 3.35). Unlike ``create()`` and catching the ``IntegrityError``, a
  conflict leaves the caller's transaction usable, so it needs no savepoint; unlike
  ``bulk_create(ignore_conflicts=True)`` it says whether the row was written.
- ``PreparedRead``: a one-row read whose SQL the ORM compiles once.
- ``update_row``: ``UPDATE … SET … WHERE pk = … AND <expected columns>``, each value as its
  field writes it; anything only the ORM can write (an expression, a related instance) goes
  through ``QuerySet.update``.
"""

from __future__ import annotations

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
    columns: list[Any]  # the selected expressions, whose converters each connection asks for
    locks: bool


# Where a connection keeps the converters of each prepared read it ran: on the wrapper, so
# they live exactly as long as it (they are bound to its ``ops``, which refer back to it).
_CONVERTERS = "_videogen_prepared_read_converters"


class PreparedRead(Generic[M]):
    """A read of at most one row by one value, its SQL compiled by the ORM once.

    ``build(value)`` returns the queryset for ``value``: rows of its model filtered by
    ``value`` on the field ``by`` (the primary key, or a foreign key's column), ``value``
    being the query's only parameter, without joins, annotations, extra columns or
    ordering that matters. ``get(value, using=alias)`` runs that query's SQL and returns the
    instance the queryset would (the same columns and converters, through
    ``Model.from_db``), or None. The value is prepared as the ORM's lookup prepares it (a
    non-number raises its ``ValueError``, a number out of the column's range finds nothing),
    and a ``select_for_update()`` read is refused outside a transaction, as Django refuses it.

    The SQL is kept per database alias; each connection works out its own converters once
    (they are its backend's) and keeps them for as long as it lives.
    """

    def __init__(
        self, build: Callable[[Any], models.QuerySet[M]], *, by: str = "pk", sample: int = 0
    ):
        self._build = build
        self._sample = sample  # the value the SQL is compiled with; found back as its parameter
        self._model: type[M] = build(sample).model
        meta = self._model._meta
        field = meta.pk if by == "pk" else meta.get_field(by)
        self._field = field.target_field if field.is_relation else field
        self._compiled: dict[str, _CompiledRead] = {}

    def get(self, value: Any, *, using: str) -> M | None:
        connection = connections[using]
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self._compile(connection)
        if compiled.locks and connection.get_autocommit():
            raise transaction.TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        value = self._field.get_prep_value(value)
        if not self._in_range(value, connection):
            return None  # the ORM's lookup finds nothing without asking the database
        with connection.cursor() as cursor:
            cursor.execute(
                compiled.sql, [self._field.get_db_prep_value(value, connection, prepared=True)]
            )
            row = cursor.fetchone()
        if row is None:
            return None
        converters = self._converters(connection, compiled)
        if converters:
            row = list(row)
            for position, (functions, expression) in converters:
                converted = row[position]
                for function in functions:
                    converted = function(converted, expression, connection)
                row[position] = converted
        return self._model.from_db(using, compiled.attnames, row)

    def _in_range(self, value: Any, connection: BaseDatabaseWrapper) -> bool:
        internal_type = self._field.get_internal_type()
        if value is None or internal_type not in connection.ops.integer_field_ranges:
            return True
        low, high = connection.ops.integer_field_range(internal_type)
        return (low is None or value >= low) and (high is None or value <= high)

    def _converters(self, connection: BaseDatabaseWrapper, compiled: _CompiledRead) -> list:
        kept = connection.__dict__.setdefault(_CONVERTERS, weakref.WeakKeyDictionary())
        converters = kept.get(self)
        if converters is None:
            compiler = self._build(self._sample).query.get_compiler(connection=connection)
            converters = kept[self] = list(compiler.get_converters(compiled.columns).items())
        return converters

    def _compile(self, connection: BaseDatabaseWrapper) -> _CompiledRead:
        query = self._build(self._sample).query
        locks = bool(query.select_for_update and connection.features.has_select_for_update)
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
            or query.extra_select
        ):
            raise ValueError("a prepared read selects its model's own columns only")
        columns = [column for column, _, _ in compiler.select]
        return _CompiledRead(
            sql=sql,
            attnames=[column.target.attname for column in columns],
            columns=columns,
            locks=locks,
        )


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
    can write (an expression, a model instance), a relation, a generated field, a field with
    its own placeholder or an expected ``None`` (``IS NULL``) sends the whole update through
    ``QuerySet.update``.
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
            or getattr(field, "generated", False)
            or field.model._meta.concrete_model is not model._meta.concrete_model
            or field.name != name
            or hasattr(field, "get_placeholder")
            or hasattr(value, "resolve_expression")
            or hasattr(value, "prepare_database_save")
        ):
            return None
        fields.append(field)
    return fields
