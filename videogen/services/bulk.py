"""Set-based writes on PostgreSQL, with every row in one JSON parameter.

``bulk_create`` and ``bulk_update`` spend most of their time in Python: a placeholder per
row and field, each value prepared and quoted on its own (and array parameters are escaped
element by element). Here the rows travel as one JSON document, encoded once by the C
encoder, and PostgreSQL takes them apart with ``jsonb_to_recordset``. Values are what the
model's fields would write: each field's ``get_db_prep_save``, a JSON field's value as its
encoder writes it; a datetime keeps its microseconds.

Callers use these on PostgreSQL only (``connection.vendor == "postgresql"``); other databases
take Django's own bulk operations.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

_AS_IS = frozenset({str, int, bool, type(None)})


def _json_value(field: models.Field, value: Any) -> Any:
    if isinstance(field, models.JSONField):
        return value  # the document's encoder writes it as the field's would
    if type(value) in _AS_IS:
        return value  # what get_db_prep_save returns for these, without its cost
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat()
    value = field.get_db_prep_save(value, connection)
    if isinstance(value, datetime | date):
        return value.isoformat()  # DjangoJSONEncoder would cut microseconds
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _column_list(fields: Sequence[models.Field], names: Sequence[str]) -> str:
    return ", ".join(
        f"{connection.ops.quote_name(name)} {field.db_type(connection)}"
        for field, name in zip(fields, names, strict=True)
    )


def _document(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, cls=DjangoJSONEncoder, separators=(",", ":"))


def update(
    model: type[models.Model],
    rows: Sequence[tuple[Any, int | None, dict[str, Any]]],
    columns: Sequence[str],
    *,
    version: str | None = None,
    also: dict[str, Any] | None = None,
) -> int:
    """``UPDATE`` each ``(pk, expected version, values)`` row, setting ``columns`` from its
    values and ``also`` (the same for every row); returns the rows written. With
    ``version``, a compare-and-set: only rows whose ``version`` column still holds the
    expected value are written, and it moves to the next."""
    opts = model._meta
    qn = connection.ops.quote_name
    table, pk = qn(opts.db_table), qn(opts.pk.column)
    also = also or {}
    fields = [opts.get_field(name) for name in columns]
    aliases = [f"c{i}" for i in range(len(fields))]
    also_fields = [opts.get_field(name) for name in also]
    assignments = [f"{qn(f.column)} = v.{a}" for f, a in zip(fields, aliases, strict=True)]
    assignments += [f"{qn(f.column)} = %s" for f in also_fields]
    keys, names, where = [opts.pk], ["id"], f"{table}.{pk} = v.id"
    if version is not None:
        version_field = opts.get_field(version)
        version_column = qn(version_field.column)
        assignments.append(f"{version_column} = v.expected + 1")
        keys.append(version_field)
        names.append("expected")
        where += f" AND {table}.{version_column} = v.expected"
    record = _column_list([*keys, *fields], [*names, *aliases])
    # Identifiers come from the model's _meta, quoted; every value is a bound parameter.
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) WHERE {where}"
    )
    document = _document(
        [
            {
                "id": key,
                "expected": expected,
                **{a: _json_value(f, values[f.name]) for f, a in zip(fields, aliases, strict=True)},
            }
            for key, expected, values in rows
        ]
    )
    same = [
        f.get_db_prep_save(value, connection)
        for f, value in zip(also_fields, also.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*same, document])
        return cursor.rowcount


def insert(objs: Sequence[models.Model], *, unique_on: str | None = None) -> list[tuple[Any, Any]]:
    """``INSERT`` ``objs`` (unsaved, one model) in their order, as ``bulk_create`` would
    (fields' ``pre_save``: ``auto_now_add`` and the like); with ``unique_on``, rows that
    would break that unique column are skipped (``ON CONFLICT DO NOTHING``). Returns
    ``(pk, unique_on value)`` of each row written (``(pk, None)`` without ``unique_on``), and
    sets the pk of each object written."""
    if not objs:
        return []
    opts = objs[0]._meta
    qn = connection.ops.quote_name
    fields = [f for f in opts.concrete_fields if f is not opts.pk]
    names = [f.column for f in fields]
    key = opts.get_field(unique_on).column if unique_on else None
    document = _document(
        [
            {f.column: _json_value(f, f.pre_save(obj, add=True)) for f in fields} | {"#": n}
            for n, obj in enumerate(objs)
        ]
    )
    columns = ", ".join(qn(name) for name in names)
    record = _column_list([*fields, models.IntegerField()], [*names, "#"])
    conflict = f"ON CONFLICT ({qn(key)}) DO NOTHING " if key else ""
    returning = f"{qn(opts.pk.column)}, {qn(key) if key else 'NULL'}"
    # Identifiers come from the model's _meta, quoted; the rows are one bound parameter.
    sql = (
        f"INSERT INTO {qn(opts.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {', '.join(f'v.{qn(name)}' for name in names)} "
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) ORDER BY v.{qn('#')} "
        f"{conflict}RETURNING {returning}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        written = cursor.fetchall()
    if key is None:
        for obj, (pk, _) in zip(objs, written, strict=True):
            obj.pk = pk
            obj._state.adding = False
    else:
        by_key = {value: pk for pk, value in written}
        attname = opts.get_field(unique_on).attname
        for obj in objs:
            pk = by_key.get(getattr(obj, attname))
            if pk is not None:
                obj.pk = pk
                obj._state.adding = False
    return written
