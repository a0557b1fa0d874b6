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


# Bytes of argv that are not UTF-8 reach Python as lone surrogates (surrogateescape).
NOT_UTF8 = "\udcff"


@pytest.mark.parametrize(
    ("option", "value", "code"),
    [
        ("--workspace", f"studio{NOT_UTF8}", "invalid_characters"),  # was a traceback
        ("--model", f"google/veo-3.1{NOT_UTF8}", "invalid_characters"),
        ("--prompt", f"A fox{NOT_UTF8}", "invalid_characters"),
        ("--prompt", "A fox\x1b[2J", "control_characters"),
        ("--prompt", "A fox\x00", "null_characters"),
        ("--resolution", "720p\n", "control_characters"),
    ],
)
def test_hostile_arguments_are_command_errors(app_on_simulator, workspace, option, value, code):
    args = {"--workspace": workspace.slug, "--model": "google/veo-3.1", "--prompt": "A fox"}
    args[option] = value
    with pytest.raises(CommandError, match=f"^{option}: .*\\({code}\\)$"):
        call_command("videogen_submit", *[part for pair in args.items() for part in pair])
    assert VideoJob.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[" * 5000 + "]" * 5000, "too_deep"),  # was a RecursionError
        ('{"size": "\\ud800"}', "size: Text contains an unpaired surrogate"),
        ('{"seed": 1e400}', "seed: Number must be finite"),
        ('{"seed": ' + "9" * 5000 + "}", "not valid JSON"),
        ('{"k\\u0000": 1}', "Text must not contain NUL"),
    ],
)
def test_hostile_json_is_a_command_error(app_on_simulator, workspace, extra, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "videogen_submit",
            "--workspace",
            workspace.slug,
            "--model",
            "google/veo-3.1",
            "--prompt",
            "A fox",
            "--json",
            extra,
        )
    assert VideoJob.objects.count() == 0
