from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from videogen.services.jobs.submission import job_create, job_submit

pytestmark = pytest.mark.django_db


def test_one_sweep_with_a_summary(app_on_simulator, enqueued, workspace):
    job = job_create(workspace=workspace, data={"model": "google/veo-3.1", "prompt": "x"})
    job_submit(job_id=job.pk)
    out = StringIO()
    call_command("videogen_reconcile", stdout=out)
    assert "Sweep done: claimed 1, polled 1" in out.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["--limit", "0"],
        ["--concurrency", "-1"],
        ["--limit", str(10**30)],  # was an overflow in the claim query
        ["--concurrency", str(2**63)],
    ],
)
def test_bad_options_are_command_errors(args, db):
    with pytest.raises(CommandError):
        call_command("videogen_reconcile", *args)
