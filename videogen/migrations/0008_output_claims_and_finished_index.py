# Output claims that expire (status "fetching" until next_attempt_at), pending outputs due
# for the sweep, and an index for finding recently completed jobs without outputs.

from django.db import migrations, models
from django.utils import timezone


def make_stranded_outputs_due(apps, schema_editor):
    # Before this change a pending output had no due time, so a fetch task that died before
    # claiming it stranded it for ever: make those due now, for the sweep to retry.
    VideoOutput = apps.get_model("videogen", "VideoOutput")
    VideoOutput.objects.filter(status="pending", next_attempt_at__isnull=True).update(
        next_attempt_at=timezone.now()
    )


class Migration(migrations.Migration):

    dependencies = [
        ('videogen', '0007_webhook_delivery_hardening'),
    ]

    operations = [
        migrations.AlterField(
            model_name='videooutput',
            name='status',
            field=models.CharField(choices=[('pending', 'waiting to be fetched'), ('fetching', 'being fetched'), ('stored', 'stored'), ('failed', 'failed (will retry)'), ('gave_up', 'gave up'), ('deleted', 'deleted by retention')], default='pending', max_length=10),
        ),
        migrations.AddIndex(
            model_name='videojob',
            index=models.Index(fields=['status', 'finished_at'], name='videogen_job_finished_idx'),
        ),
        migrations.RunPython(make_stranded_outputs_due, migrations.RunPython.noop),
    ]
