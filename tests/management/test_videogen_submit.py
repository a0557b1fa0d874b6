from decimal import Decimal
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


@pytest.fixture
def provider_out_of_reach(app_on_simulator, settings):
    """The app pointed at a port where nothing listens (a stopped simulator, a wrong port)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.VIDEOGEN = {**settings.VIDEOGEN, "BASE_URL": f"http://127.0.0.1:{port}/api/v1"}
    return settings.VIDEOGEN["BASE_URL"]


def test_a_provider_out_of_reach_fails_at_once_with_the_reason(
    provider_out_of_reach, enqueued, workspace
):
    import time

    started = time.monotonic()
    with pytest.raises(CommandError) as failed:
        call_command(
            "videogen_submit",
            *("--workspace", workspace.slug, "--model", "google/veo-3.1", "--prompt", "x"),
            *("--wait", "--timeout", "600"),
            stdout=StringIO(),
        )
    message = str(failed.value)
    assert f"Cannot reach the video provider at {provider_out_of_reach}" in message
    assert "simulator" in message  # what to check
    assert time.monotonic() - started < 10
    assert not VideoJob.objects.exists() and enqueued == []


@pytest.mark.parametrize("command", [["videogen_reconcile"], ["videogen_fetch_outputs", "--now"]])
def test_other_commands_that_talk_to_the_provider_fail_fast_too(provider_out_of_reach, command):
    with pytest.raises(CommandError, match="Cannot reach the video provider"):
        call_command(*command, stdout=StringIO())


def test_a_refused_key_fails_at_once(app_on_simulator, settings, workspace):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "API_KEY": "sk-wrong"}
    with pytest.raises(CommandError, match="refused the API key"):
        call_command(
            "videogen_submit",
            *("--workspace", workspace.slug, "--model", "google/veo-3.1", "--prompt", "x"),
        )


def test_a_budget_refusal_is_a_command_error_in_cents(app_on_simulator, workspace):
    workspace.monthly_budget = Decimal("0.3")
    workspace.save()
    with pytest.raises(CommandError, match=r"this job 1\.60 = 1\.60 USD, budget 0\.30 USD\."):
        call_command(
            "videogen_submit",
            *("--workspace", workspace.slug, "--model", "google/veo-3.1", "--prompt", "x"),
            *("--duration", "8", "--json", '{"generate_audio": false}'),
        )
    assert not VideoJob.objects.exists()


def test_the_cost_is_shown_in_cents(app_on_simulator, enqueued, workspace):
    out = StringIO()
    call_command(
        "videogen_submit",
        *("--workspace", workspace.slug, "--model", "google/veo-3.1", "--prompt", "A fox"),
        *("--duration", "8", "--wait", "--timeout", "30"),
        stdout=out,
    )
    cost = VideoJob.objects.get().cost
    assert cost == cost.quantize(Decimal("0.01")) and f"cost {cost:.2f} USD;" in out.getvalue()
