from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from videogen.models import UsageEntry, VideoJob

pytestmark = pytest.mark.django_db


def test_submit_and_wait_until_completed(app_on_simulator, enqueued, workspace):
    out = StringIO()
    call_command(
        "videogen_submit",
        "--workspace",
        workspace.slug,
        "--model",
        "google/veo-3.1",
        "--prompt",
        "A fox",
        "--wait",
        "--timeout",
        "30",
        stdout=out,
    )
    job = VideoJob.objects.get()
    assert job.status == "completed"
    assert "Completed; cost" in out.getvalue()
    assert UsageEntry.objects.filter(job=job).count() == 1


def test_invalid_request_is_a_command_error_naming_the_field(app_on_simulator, workspace):
    with pytest.raises(CommandError, match="duration"):
        call_command(
            "videogen_submit",
            "--workspace",
            workspace.slug,
            "--model",
            "google/veo-3.1",
            "--prompt",
            "x",
            "--duration",
            "999",
        )
    assert not VideoJob.objects.exists()


def test_unknown_workspace_and_bad_json_are_command_errors(app_on_simulator, workspace):
    with pytest.raises(CommandError, match="No workspace"):
        call_command("videogen_submit", "--workspace", "nope", "--model", "m")
    with pytest.raises(CommandError, match="JSON"):
        call_command(
            "videogen_submit", "--workspace", workspace.slug, "--model", "m", "--json", "{"
        )


def test_failed_job_is_a_command_error(app_on_simulator, enqueued, workspace):
    with pytest.raises(CommandError, match="failed"):
        call_command(
            "videogen_submit",
            "--workspace",
            workspace.slug,
            "--model",
            "google/veo-3.1",
            "--prompt",
            "A fox [sim:fail]",
            "--wait",
            stdout=StringIO(),
        )
