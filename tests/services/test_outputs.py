import hashlib
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from videogen.models import OutputStatus, VideoJob, VideoOutput
from videogen.services.outputs import outputs_fetch, outputs_prune, outputs_refetch_missing
from videogen.services.reconcile import job_poll_now, reconcile_sweep
from videogen.services.submission import job_create, job_submit

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "videogen" / "simulator" / "assets" / "sample.mp4"


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
