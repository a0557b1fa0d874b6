"""Room on each page of the jobs table for a row's next version, on PostgreSQL only.

A sweep leases every job it claims (``lease_until``, ``lease_token``: in no index) before
polling it. On full pages (the default fillfactor of 100) that UPDATE cannot stay on the
row's page, so PostgreSQL writes the new version elsewhere and adds it to every one of the
table's indexes: 0.08–0.11 ms per job, 1.5–2 s before the first poll of a 10,000-job sweep.
With a fifth of each page free it is a HOT update (no index touched): 0.02 ms per job (see
docs/benchmarks.md). Pages written from now on keep the room; existing ones get it when
the table is rewritten (``VACUUM FULL videogen_videojob``, in a maintenance window: it
locks the table).
"""

from django.db import migrations

FILLFACTOR = 80


def _jobs_table(apps, schema_editor) -> str:
    table = apps.get_model("videogen", "VideoJob")._meta.db_table
    return schema_editor.quote_name(table)


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = _jobs_table(apps, schema_editor)
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {_jobs_table(apps, schema_editor)} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("videogen", "0012_job_updated_index")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
