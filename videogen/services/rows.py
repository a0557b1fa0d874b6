"""Writing one row unless a unique column already holds its value, in one statement.

``INSERT … ON CONFLICT (<column>) DO NOTHING RETURNING id`` (PostgreSQL; SQLite ≥ 3.35).
Unlike ``create()`` and catching the ``IntegrityError``, a conflict leaves the caller's
transaction usable, so it needs no savepoint; unlike ``bulk_create(ignore_conflicts=True)``
it says whether the row was written.
"""

from __future__ import annotations

from django.db import connections, models, router


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
