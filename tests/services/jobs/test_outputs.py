import hashlib
import io
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import responses
from django.utils import timezone

from videogen.models import OutputStatus, VideoJob, VideoOutput
from videogen.services.jobs.outputs import outputs_fetch, outputs_prune, outputs_refetch_missing
from videogen.services.jobs.reconcile import job_poll_now, reconcile_sweep
from videogen.services.jobs.submission import job_create, job_submit
from videogen.services.queue import enqueue_fetch_outputs as real_enqueue_fetch_outputs

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[3] / "videogen" / "simulator" / "assets" / "sample.mp4"


@pytest.fixture(autouse=True)
def _wired(app_on_simulator, enqueued, enqueued_fetches, media_storage):
    return app_on_simulator


def completed_job(workspace, prompt="A fox"):
    job = job_create(workspace=workspace, data={"model": "google/veo-3.1", "prompt": prompt})
    job_submit(job_id=job.pk)
    for _ in range(50):
        job_poll_now(job_id=job.pk)
        job.refresh_from_db()
        if job.is_terminal:
            return job
        time.sleep(0.05)
    raise AssertionError("job did not complete")


def test_completion_enqueues_the_fetch(
    workspace, enqueued_fetches, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = completed_job(workspace)
    assert enqueued_fetches == [job.pk]


def test_store_outputs_off_enqueues_nothing(
    workspace, enqueued_fetches, settings, django_capture_on_commit_callbacks
):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "STORE_OUTPUTS": False}
    with django_capture_on_commit_callbacks(execute=True):
        completed_job(workspace)
    assert enqueued_fetches == []


def test_fetch_stores_the_video_with_size_type_and_sha256_once(workspace):
    job = completed_job(workspace)
    first = outputs_fetch(job_id=job.pk)
    second = outputs_fetch(job_id=job.pk)
    assert (first.stored, second.stored, second.skipped) == (1, 0, 1)
    output = VideoOutput.objects.get(job=job)
    data = SAMPLE.read_bytes()
    assert output.status == OutputStatus.STORED
    assert (output.size_bytes, output.content_type) == (len(data), "video/mp4")
    assert output.sha256 == hashlib.sha256(data).hexdigest()
    with output.file.open("rb") as handle:
        assert handle.read() == data
    files = list(Path(output.file.path).parent.iterdir())
    assert len(files) == 1  # never duplicated
    assert job.workspace.slug in output.file.name and output.file.name.endswith(".mp4")


def test_upstream_failure_is_retried_with_backoff_by_the_sweep(workspace, enqueued_fetches):
    job = completed_job(workspace, prompt="A fox [sim:content-error]")
    report = outputs_fetch(job_id=job.pk)
    output = VideoOutput.objects.get(job=job)
    assert report.failed == 1 and output.status == OutputStatus.FAILED
    assert "502" in output.last_error and output.next_attempt_at > timezone.now()
    assert not output.file
    enqueued_fetches.clear()
    reconcile_sweep()
    assert enqueued_fetches == []  # not due yet
    VideoOutput.objects.filter(pk=output.pk).update(next_attempt_at=timezone.now())
    reconcile_sweep()
    assert enqueued_fetches == [job.pk]


def test_gives_up_after_the_limit(workspace, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "OUTPUT_MAX_ATTEMPTS": 2}
    job = completed_job(workspace, prompt="A fox [sim:content-error]")
    outputs_fetch(job_id=job.pk)
    outputs_fetch(job_id=job.pk)
    assert VideoOutput.objects.get(job=job).status == OutputStatus.GAVE_UP
    assert outputs_refetch_missing() == 1
    assert VideoOutput.objects.get(job=job).status == OutputStatus.FAILED


class _FlakyContent(BaseHTTPRequestHandler):
    """Content endpoint that misbehaves as the test says, then serves the real file."""

    mode = "interrupt"

    def log_message(self, *args):
        pass

    def do_GET(self):
        data = SAMPLE.read_bytes()
        mode = type(self).mode
        if mode == "ok":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if mode == "slow":
            # Every read comes in time, but the whole takes longer than the budget.
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for start in range(0, len(data), 512):
                self.wfile.write(data[start : start + 512])
                self.wfile.flush()
                time.sleep(0.05)
            return
        if mode == "corrupt":
            body = b"\x00" * 64
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # interrupt: promise the whole file, send a third, drop the connection.
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 3])
        self.wfile.flush()
        self.connection.shutdown(2)


@pytest.fixture
def flaky_provider(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyContent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["interrupt", "corrupt"])
def test_bad_downloads_are_not_stored_and_a_later_try_restarts_cleanly(
    workspace, settings, flaky_provider, mode
):
    job = completed_job(workspace)
    settings.VIDEOGEN = {
        **settings.VIDEOGEN,
        "BASE_URL": f"http://127.0.0.1:{flaky_provider.server_address[1]}/api/v1",
    }
    _FlakyContent.mode = mode
    assert outputs_fetch(job_id=job.pk).failed == 1
    output = VideoOutput.objects.get(job=job)
    assert output.status == OutputStatus.FAILED and not output.file and not output.sha256
    _FlakyContent.mode = "ok"
    assert outputs_fetch(job_id=job.pk).stored == 1
    output.refresh_from_db()
    assert output.sha256 == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()


def test_prune_deletes_files_past_retention(workspace):
    job = completed_job(workspace)
    outputs_fetch(job_id=job.pk)
    output = VideoOutput.objects.get(job=job)
    path = Path(output.file.path)
    VideoOutput.objects.filter(pk=output.pk).update(stored_at=timezone.now() - timedelta(days=31))
    assert outputs_prune(older_than_days=30, dry_run=True) == 1 and path.exists()
    assert outputs_prune(older_than_days=30) == 1
    output.refresh_from_db()
    assert not path.exists() and output.status == OutputStatus.DELETED and not output.file
    assert outputs_prune(older_than_days=30) == 0


def test_not_completed_jobs_are_left_alone(workspace):
    job = job_create(workspace=workspace, data={"model": "google/veo-3.1", "prompt": "x"})
    assert outputs_fetch(job_id=job.pk).stored == 0
    assert not VideoOutput.objects.exists()
    assert VideoJob.objects.get(pk=job.pk).status == "queued"


# --- claims, the sweep and every output of a job ----------------------------------------------

PROVIDER = "https://openrouter.test/api/v1"
MP4 = SAMPLE.read_bytes()


def use_mocked_provider(settings) -> None:
    """From now on, the provider is mocked with ``responses``."""
    settings.VIDEOGEN = {**settings.VIDEOGEN, "BASE_URL": PROVIDER}


@pytest.fixture
def provider(settings):
    use_mocked_provider(settings)
    return PROVIDER


def content_url(job, index=0):
    return f"{PROVIDER}/videos/{job.provider_job_id}/content?index={index}"


class WorkerKilled(BaseException):
    """What the fetcher sees when django-q2 kills its worker (nothing of ours catches it)."""


def test_a_fetcher_that_dies_mid_download_loses_its_claim_and_the_sweep_retries(
    workspace, settings, enqueued_fetches
):
    from videogen import tasks
    from videogen.services import queue

    job = completed_job(workspace)
    use_mocked_provider(settings)
    with responses.RequestsMock() as mock:
        mock.add_callback("GET", content_url(job), callback=lambda request: die())
        with pytest.raises(WorkerKilled):
            tasks.fetch_outputs(job.pk)
    output = VideoOutput.objects.get(job=job)
    assert (output.status, output.attempts) == (OutputStatus.FETCHING, 1)
    # The claim outlives the longest the task can run (django-q2 kills it by then).
    assert output.next_attempt_at > timezone.now() + timedelta(seconds=queue.fetch_task_timeout())
    # Meanwhile a second fetch leaves the output to its fetcher, and the sweep waits.
    with responses.RequestsMock():
        assert outputs_fetch(job_id=job.pk).busy == 1
    reconcile_sweep()
    assert enqueued_fetches == []
    # The claim's time is over: the sweep hands the output to a new fetch.
    VideoOutput.objects.filter(pk=output.pk).update(next_attempt_at=timezone.now())
    reconcile_sweep()
    reconcile_sweep()  # a second sweep does not enqueue it again
    assert enqueued_fetches == [job.pk]
    output.refresh_from_db()
    assert output.status == OutputStatus.FAILED and "stopped before finishing" in output.last_error
    with responses.RequestsMock() as mock:
        mock.get(content_url(job), body=MP4, content_type="video/mp4")
        assert outputs_fetch(job_id=job.pk).stored == 1


def die():
    raise WorkerKilled


def test_a_fetcher_killed_every_time_gives_up_after_the_limit(
    workspace, enqueued_fetches, settings
):
    from videogen import tasks

    job = completed_job(workspace)
    use_mocked_provider(settings)
    settings.VIDEOGEN = {**settings.VIDEOGEN, "OUTPUT_MAX_ATTEMPTS": 2}
    for _ in range(2):
        with responses.RequestsMock() as mock:
            mock.add_callback("GET", content_url(job), callback=lambda request: die())
            with pytest.raises(WorkerKilled):
                tasks.fetch_outputs(job.pk)
        VideoOutput.objects.filter(job=job).update(next_attempt_at=timezone.now())
        reconcile_sweep()
    output = VideoOutput.objects.get(job=job)
    assert output.status == OutputStatus.GAVE_UP and "gave up after 2" in output.last_error
    assert enqueued_fetches == [job.pk]  # once, after the first death


def test_a_download_slower_than_its_budget_fails_and_is_retried(
    workspace, settings, flaky_provider, enqueued_fetches
):
    job = completed_job(workspace)
    settings.VIDEOGEN = {
        **settings.VIDEOGEN,
        "BASE_URL": f"http://127.0.0.1:{flaky_provider.server_address[1]}/api/v1",
        "OUTPUT_FETCH_TIMEOUT_SECONDS": 0.3,
    }
    _FlakyContent.mode = "slow"
    report = outputs_fetch(job_id=job.pk)
    output = VideoOutput.objects.get(job=job)
    assert report.failed == 1 and output.status == OutputStatus.FAILED
    assert "OUTPUT_FETCH_TIMEOUT_SECONDS" in output.last_error and not output.file
    VideoOutput.objects.filter(pk=output.pk).update(next_attempt_at=timezone.now())
    reconcile_sweep()
    assert enqueued_fetches == [job.pk]


def test_a_completed_job_whose_fetch_task_never_ran_is_found_by_the_sweep(
    workspace, enqueued_fetches, settings
):
    job = completed_job(workspace)  # its fetch task was enqueued, and lost
    assert not VideoOutput.objects.filter(job=job).exists()
    reconcile_sweep()
    assert enqueued_fetches == []  # not yet: the task may still be on its way
    grace = timedelta(seconds=settings.VIDEOGEN.get("QUEUED_STALE_SECONDS", 300) + 1)
    VideoJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - grace)
    reconcile_sweep()
    reconcile_sweep()
    assert enqueued_fetches == [job.pk]
    assert VideoOutput.objects.get(job=job).status == OutputStatus.PENDING


def test_an_output_nobody_claimed_is_found_by_the_sweep(workspace, enqueued_fetches):
    from videogen.services.jobs.outputs import outputs_ensure

    job = completed_job(workspace)
    outputs_ensure(job=job)  # the task listed the outputs, then died before claiming one
    reconcile_sweep()
    assert enqueued_fetches == []
    VideoOutput.objects.filter(job=job).update(next_attempt_at=timezone.now())
    reconcile_sweep()
    assert enqueued_fetches == [job.pk]


@pytest.fixture
def two_outputs(workspace, provider):
    """A completed job with two videos: the first stored, the second failed for good."""
    from tests.factories import make_job

    job = make_job(
        workspace,
        status="completed",
        provider_job_id="vid-two",
        unsigned_urls=["https://cdn.test/0.mp4", "https://cdn.test/1.mp4"],
        finished_at=timezone.now(),
    )
    with responses.RequestsMock() as mock:
        mock.get(content_url(job, 0), body=MP4, content_type="video/mp4")
        mock.get(content_url(job, 1), status=404)
        report = outputs_fetch(job_id=job.pk)
    assert (report.stored, report.failed) == (1, 1)
    return job


def test_the_refetch_command_considers_every_output_of_a_job(two_outputs, enqueued_fetches):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("videogen_fetch_outputs", stdout=out)
    assert enqueued_fetches == [two_outputs.pk] and "1 job" in out.getvalue()
    second = VideoOutput.objects.get(job=two_outputs, index=1)
    assert (second.status, second.attempts) == (OutputStatus.FAILED, 0)  # tries again


def test_fetching_now_stores_the_missing_output_of_a_partly_stored_job(two_outputs):
    from django.core.management import call_command

    with responses.RequestsMock() as mock:
        mock.get(f"{PROVIDER}/videos/models", json={"data": []})  # the command checks first
        mock.get(content_url(two_outputs, 1), body=MP4, content_type="video/mp4")
        call_command("videogen_fetch_outputs", "--now", stdout=io.StringIO())
    assert set(VideoOutput.objects.filter(job=two_outputs).values_list("status", flat=True)) == {
        OutputStatus.STORED
    }


def test_the_fetch_task_carries_a_timeout_fit_for_large_files(
    workspace, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import uuid

    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.signing import SignedPackage

    from videogen.services import queue

    # A queue of this test's own (on Redis, others' tasks may be waiting in the default one).
    name = f"videogen-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(queue, "enqueue_fetch_outputs", real_enqueue_fetch_outputs)
    settings.VIDEOGEN = {**settings.VIDEOGEN, "OUTPUT_FETCH_TIMEOUT_SECONDS": 1800}
    with django_capture_on_commit_callbacks(execute=True):
        job = completed_job(workspace)  # completion enqueues the fetch, through the broker
    broker = get_broker(name)
    tasks = []
    while batch := broker.dequeue():
        for ack_id, payload in batch:
            tasks.append(SignedPackage.loads(payload))
            broker.acknowledge(ack_id)
    broker.delete_queue()
    fetch = [t for t in tasks if t["func"] == queue.FETCH_OUTPUTS_TASK and t["args"] == (job.pk,)]
    # The download budget, plus one read timeout (5 s here), plus a little: not the
    # cluster's 300 s.
    assert [t["timeout"] for t in fetch] == [1800 + 5 + 10]


class _StallingContent(BaseHTTPRequestHandler):
    """Sends the headers and half the video, then holds the connection (a fetcher in the
    middle of a large download), until the test ends."""

    started = threading.Event()
    release = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/videos/models"):  # the command's reachability check
            body = b'{"data": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(MP4)))
        self.end_headers()
        self.wfile.write(MP4[: len(MP4) // 2])
        self.wfile.flush()
        type(self).started.set()
        type(self).release.wait(60)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_fetcher_process_killed_mid_download_is_retried_by_the_sweep(
    workspace, enqueued_fetches, settings
):
    import json
    import os
    import signal

    from django.conf import settings as django_settings
    from django.db import connection

    from tests.processes import ManagedProcess, database_url

    job = completed_job(workspace)
    enqueued_fetches.clear()  # the completion's own fetch (committed: on_commit ran)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StallingContent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _StallingContent.started.clear()
    _StallingContent.release.clear()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOGEN_", "OPENROUTER_"))}
    env.update(
        DATABASE_URL=database_url(connection.settings_dict),
        DJANGO_SECRET_KEY=django_settings.SECRET_KEY,
        OPENROUTER_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}/api/v1",
        VIDEOGEN_OVERRIDES=json.dumps({"SIMULATOR": True, "READ_TIMEOUT": 30}),
    )
    fetcher = ManagedProcess(
        "fetcher", ["videogen_fetch_outputs", "--job", str(job.public_id)], env
    )
    try:
        assert _StallingContent.started.wait(60), fetcher.dump()
        assert VideoOutput.objects.get(job=job).status == OutputStatus.FETCHING
        os.killpg(fetcher.pid, signal.SIGKILL)  # what django-q2 does at its timeout
        fetcher.proc.wait(10)
    finally:
        fetcher.stop()
        fetcher.cleanup()
        _StallingContent.release.set()
        server.shutdown()
        server.server_close()
    output = VideoOutput.objects.get(job=job)
    assert (output.status, output.attempts) == (OutputStatus.FETCHING, 1)
    reconcile_sweep()
    assert enqueued_fetches == []  # the claim still runs
    VideoOutput.objects.filter(pk=output.pk).update(next_attempt_at=timezone.now())
    reconcile_sweep()
    assert enqueued_fetches == [job.pk]
    assert outputs_fetch(job_id=job.pk).stored == 1  # the simulator serves it whole
