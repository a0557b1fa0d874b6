"""A covering index for ledger reports and budget checks, on PostgreSQL only.

Reports and the budget's month-to-date sum read (workspace, completed_at) ranges and only
model, cost and duration: with INCLUDE they are answered from the index alone (an
index-only scan; see docs/benchmarks.md). SQLite has no INCLUDE, so it keeps the plain
(workspace, completed_at) index from 0001.
"""

from django.db import migrations

INDEX = "videogen_usage_ws_time_cover_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON videogen_usageentry "
        "(workspace_id, completed_at) INCLUDE (model, cost, duration)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("videogen", "0003_video_outputs")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
