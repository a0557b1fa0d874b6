"""The host-site checks (run by tests/host_site/run.sh in the host project's virtualenv).

Against the running site, simulator and qcluster: the provider's signed webhook is answered
204 and a forged one 401 (behind LoginRequiredMiddleware, CSRF and ATOMIC_REQUESTS); a job
created through the API completes against the simulator and its video is stored; every
admin page of videogen renders, and so do its workspace pages. Prints one line per check;
exits non-zero on the first failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sys
import time

import django
import requests

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from videogen.models import Role, VideoJob, Workspace, WorkspaceMembership  # noqa: E402

SITE = os.environ["HOST_SITE_URL"]
SIMULATOR = os.environ["HOST_SIMULATOR_URL"]
SECRET = os.environ["HOST_WEBHOOK_SECRET"]
WEBHOOK = f"{SITE}/videogen/webhooks/openrouter/"
USER, PASSWORD = "host-admin", "host-admin-password"
DEADLINE_SECONDS = 90


def ok(message: str) -> None:
    print(f"   ok  {message}", flush=True)


def fail(message: str) -> None:
    print(f"   FAILED  {message}", flush=True)
    sys.exit(1)


def wait_for(what: str, predicate, seconds: float = DEADLINE_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    fail(f"{what}: not within {seconds:.0f} s")


def sign(body: bytes, secret: str) -> str:
    """The provider's signature, computed here (not by videogen's own signer)."""
    ts = int(time.time())
    digest = hmac.new(secret.encode(), f"{ts},".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def setup_data() -> None:
    user = get_user_model().objects.create_superuser(USER, "admin@host.test", PASSWORD)
    workspace = Workspace.objects.create(name="Host studio", slug="host-studio")
    WorkspaceMembership.objects.create(workspace=workspace, user=user, role=Role.ADMIN)


def check_processes_answer() -> None:
    wait_for(
        "the simulator answers",
        lambda: requests.get(f"{SIMULATOR}/videos/models", timeout=2).status_code < 500,
    )
    wait_for("the site answers", lambda: requests.get(f"{SITE}/admin/login/", timeout=2).ok)
    login = requests.get(f"{SITE}/videogen/", allow_redirects=False, timeout=5)
    if login.status_code != 302:
        fail(f"the pages are behind LoginRequiredMiddleware: got {login.status_code}")
    ok("site, simulator and qcluster started; anonymous pages redirect to the login")


def check_catalog() -> None:
    from django.core.management import call_command

    call_command("videogen_sync_models", verbosity=0)
    ok("videogen_sync_models filled the catalog from the simulator")


def check_api_job_completes() -> str:
    api = requests.Session()
    api.auth = (USER, PASSWORD)  # the host's DRF authentication (DRF's default: Basic)
    created = api.post(
        f"{SITE}/videogen/api/jobs/",
        json={"workspace": "host-studio", "model": "google/veo-3.1", "prompt": "A fox"},
        timeout=30,
    )
    if created.status_code != 202:
        fail(f"POST jobs/ answered {created.status_code}: {created.text[:500]}")
    url = created.headers["Location"]
    ok(f"API job created (202, {url})")

    def completed():
        job = api.get(url, timeout=10).json()
        if job["status"] in ("failed", "cancelled", "expired"):
            fail(f"the job ended {job['status']}: {job}")
        return job if job["status"] == "completed" and job["outputs"][0]["stored"] else None

    job = wait_for("the job completed and its video stored", completed)
    ok(f"the job completed against the simulator (cost {job['cost']}) and its video is stored")
    events = VideoJob.objects.get(public_id=job["id"]).events.values_list("source", flat=True)
    if "webhook" not in events:
        fail(f"the job was not completed by the provider's webhook: {list(events)}")
    ok("the simulator's signed webhook completed it (through LoginRequiredMiddleware)")
    video = api.get(f"{url}content/", timeout=30)
    if video.status_code != 200 or video.content[4:8] != b"ftyp":
        fail(f"GET content/ answered {video.status_code}")
    ok("the stored video downloads through the API")
    return VideoJob.objects.get(public_id=job["id"]).provider_job_id


def check_webhooks(provider_job_id: str) -> None:
    body = json.dumps(
        {
            "type": "video.generation.completed",
            "created_at": "2026-11-25T12:00:00Z",
            "data": {"id": provider_job_id, "status": "completed"},
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    signed = requests.post(
        WEBHOOK, data=body, headers={**headers, "X-OpenRouter-Signature": sign(body, SECRET)}
    )
    if signed.status_code != 204:
        fail(f"a signed delivery answered {signed.status_code}: {signed.text[:300]}")
    ok("a signed delivery answers 204")
    forged = requests.post(
        WEBHOOK,
        data=body,
        headers={**headers, "X-OpenRouter-Signature": sign(body, "whsec-forged")},
    )
    if forged.status_code != 401:
        fail(f"a forged delivery answered {forged.status_code}: {forged.text[:300]}")
    ok("a forged delivery answers 401")


def check_admin_pages() -> None:
    setup_test_environment()
    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    job = VideoJob.objects.first()
    pages = [reverse("admin:videogen_usageentry_report")]
    for model in (
        "workspace",
        "videojob",
        "jobevent",
        "usageentry",
        "webhookdelivery",
        "videomodel",
    ):
        pages.append(reverse(f"admin:videogen_{model}_changelist"))
        objects = {
            "workspace": Workspace.objects.first(),
            "videojob": job,
            "jobevent": job.events.first(),
            "usageentry": getattr(job, "usage_entry", None),
            "webhookdelivery": job.webhook_deliveries.first(),
            "videomodel": __import__("videogen.models").models.VideoModel.objects.first(),
        }
        obj = objects[model]
        if obj is None:
            fail(f"no {model} to open")
        pages.append(reverse(f"admin:videogen_{model}_change", args=[obj.pk]))
    output = job.outputs.first()
    pages.append(reverse("admin:videogen_videooutput_download", args=[output.pk]))
    for page in pages:
        response = client.get(page)
        if response.status_code != 200:
            fail(f"admin page {page} answered {response.status_code}")
    ok(f"{len(pages)} admin pages render (changelists, change pages, usage report, download)")


def check_workspace_pages() -> None:
    """videogen's own pages in a host that has none of the demo's templates and no DRF
    authtoken: its layout, stylesheet and htmx come with the wheel; the video seeks."""
    with contextlib.suppress(RuntimeError):  # already set up by check_admin_pages
        setup_test_environment()
    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    job = VideoJob.objects.first()
    slug = job.workspace.slug
    pages = {
        "workspaces": reverse("videogen:workspaces"),
        "workspace": reverse("videogen:workspace", args=[slug]),
        "job": reverse("videogen:job", args=[slug, job.public_id]),
        "spend": reverse("videogen:workspace-spend", args=[slug]),
        "token": reverse("videogen:api-token"),
    }
    for name, page in pages.items():
        response = client.get(page)
        if response.status_code != 200 or b"videogen/videogen.css" not in response.content:
            fail(f"the {name} page {page} answered {response.status_code} without its stylesheet")
    if b"does not issue API tokens" not in client.get(pages["token"]).content:
        fail("the token page does not say that this host issues no tokens")
    video = client.get(
        reverse("videogen:job-output", args=[slug, job.public_id, 0]),
        headers={"Range": "bytes=0-99"},
    )
    if video.status_code != 206 or video["Content-Range"].split("/")[0] != "bytes 0-99":
        fail(f"a range of the video answered {video.status_code}")
    for asset in ("videogen/videogen.css", "videogen/vendor/htmx-2.0.11/htmx.min.js"):
        if not finders.find(asset):
            fail(f"the wheel lacks the static file {asset}")
    ok(f"{len(pages)} workspace pages render in the host's layout; the video answers ranges")


def main() -> None:
    setup_data()
    check_processes_answer()
    check_catalog()
    provider_job_id = check_api_job_completes()
    check_webhooks(provider_job_id)
    check_admin_pages()
    check_workspace_pages()
    print("host site: all checks passed", flush=True)


if __name__ == "__main__":
    main()
