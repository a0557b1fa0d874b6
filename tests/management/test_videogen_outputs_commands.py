from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.services.jobs.test_outputs import completed_job
from videogen.models import OutputStatus, VideoOutput

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _wired(app_on_simulator, enqueued, enqueued_fetches, media_storage):
    return app_on_simulator


def test_fetch_missing_enqueues_completed_jobs_without_stored_outputs(workspace, enqueued_fetches):
    job = completed_job(workspace)
    out = StringIO()
    call_command("videogen_fetch_outputs", stdout=out)
    assert enqueued_fetches == [job.pk] and "1 job" in out.getvalue()


def test_fetch_now_and_for_one_job(workspace):
    job = completed_job(workspace)
    call_command("videogen_fetch_outputs", "--job", str(job.public_id), stdout=StringIO())
    assert VideoOutput.objects.get(job=job).status == OutputStatus.STORED
    other = completed_job(workspace)
    call_command("videogen_fetch_outputs", "--now", stdout=StringIO())
    assert VideoOutput.objects.get(job=other).status == OutputStatus.STORED


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_job_is_a_command_error(value):
    with pytest.raises(CommandError, match="No job"):
        call_command("videogen_fetch_outputs", "--job", value)


def test_prune_needs_a_retention_and_counts(settings):
    with pytest.raises(CommandError, match="OUTPUT_RETENTION_DAYS"):
        call_command("videogen_prune_outputs")
    for days in ("-1", "36501", str(10**30)):  # the last one overflowed the cutoff
        with pytest.raises(CommandError, match="--days must be between 0 and 36500"):
            call_command("videogen_prune_outputs", "--days", days)
    settings.VIDEOGEN = {**settings.VIDEOGEN, "OUTPUT_RETENTION_DAYS": 30}
    out = StringIO()
    call_command("videogen_prune_outputs", "--dry-run", stdout=out)
    assert "0 stored output(s) older than 30 days would be deleted" in out.getvalue()
