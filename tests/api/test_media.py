"""``data:`` media of job requests: stored as files in the outputs' storage, referenced from
the job row, sent to the provider as the ``data:`` URL they came as, never sent back."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
import responses
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from tests.api.conftest import API, PROVIDER
from videogen.models import VideoJob
from videogen.services.jobs.submission import job_submit

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
AUDIO = b"ID3" + b"\x01" * 5000


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def request_body(**extra) -> dict:
    return {
        "workspace": "studio-a",
        "model": VEO,
        "prompt": "A fox",
        "frame_images": [
            {
                "type": "image_url",
                "image_url": {"url": data_url("image/png", IMAGE)},
                "frame_type": "first_frame",
            }
        ],
        "input_references": [
            {"type": "image_url", "image_url": {"url": "https://img.test/style.png"}},
            {"type": "audio_url", "audio_url": {"url": data_url("audio/mpeg", AUDIO)}},
        ],
        **extra,
    }


def stored_names(prefix: str = "videogen/outputs/") -> list[str]:
    root = Path(default_storage.location)
    return sorted(str(p.relative_to(root)) for p in root.glob(f"{prefix}**/*") if p.is_file())


@pytest.fixture
def created(team, catalog, enqueued, media_storage, settings):
    settings.VIDEOGEN = {**settings.VIDEOGEN, "BASE_URL": PROVIDER, "API_KEY": "sk-test"}
    response = team.client("member").post(f"{API}/jobs/", request_body(), format="json")
    assert response.status_code == 202, response.json()
    return VideoJob.objects.get(public_id=response.json()["id"])


def test_data_media_are_kept_as_files_in_the_jobs_folder_not_in_the_row(created):
    row = json.dumps([created.frame_images, created.input_references])
    assert base64.b64encode(IMAGE[:30]).decode()[:20] not in row and len(row) < 2000
    names = stored_names()
    assert [Path(n).name for n in names] == ["frame_images-0.png", "input_references-1.mp3"]
    assert all(
        f"/{created.workspace.slug}/" in n and f"/{created.public_id}/inputs/" in n for n in names
    )
    reference = created.frame_images[0]["image_url"]["stored"]
    assert default_storage.open(reference["name"]).read() == IMAGE
    assert reference["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    assert created.input_references[0] == {
        "type": "image_url",
        "image_url": {"url": "https://img.test/style.png"},
    }


def test_the_provider_is_sent_the_data_urls_as_they_came(created):
    with responses.RequestsMock() as mock:
        mock.post(
            f"{PROVIDER}/videos",
            json={"id": "vid-media", "polling_url": "x", "status": "pending"},
            status=202,
        )
        assert job_submit(job_id=created.pk).to_status == "pending"
        sent = json.loads(mock.calls[0].request.body)
    assert sent["frame_images"] == request_body()["frame_images"]
    assert sent["input_references"] == request_body()["input_references"]


def test_lists_and_pages_describe_data_media_and_never_send_them_back(created, team):
    listed = team.client("viewer").get(f"{API}/jobs/?page_size=100")
    shown = next(job for job in listed.json()["results"] if job["id"] == str(created.public_id))
    assert shown["frame_images"][0]["image_url"] == {
        "url": None,
        "media_type": "image/png",
        "size_bytes": len(IMAGE),
        "sha256": hashlib.sha256(IMAGE).hexdigest(),
    }
    assert shown["input_references"][0]["image_url"]["url"] == "https://img.test/style.png"
    assert shown["input_references"][1]["audio_url"]["media_type"] == "audio/mpeg"
    detail = team.client("viewer").get(f"{API}/jobs/{created.public_id}/")
    for body in (listed.content, detail.content):
        assert b"base64" not in body
    client = Client()
    client.force_login(team.member)
    for url in (
        reverse("videogen:workspace", args=["studio-a"]),
        reverse("videogen:job", args=["studio-a", created.public_id]),
    ):
        assert b"base64" not in client.get(url).content


def test_rows_from_before_keep_their_inline_data_out_of_the_api(team):
    from tests.factories import make_job

    inline = {"type": "image_url", "image_url": {"url": data_url("image/png", IMAGE)}}
    job = make_job(team.a, frame_images=[{**inline, "frame_type": "first_frame"}])
    shown = team.client("viewer").get(f"{API}/jobs/{job.public_id}/").json()
    assert shown["frame_images"][0]["image_url"]["url"] is None
    assert shown["frame_images"][0]["image_url"]["size_bytes"] == len(IMAGE)


def test_a_refused_job_leaves_no_file_behind(team, catalog, enqueued, media_storage):
    team.a.monthly_budget = Decimal("0.01")
    team.a.save()
    response = team.client("member").post(
        f"{API}/jobs/", request_body(duration=8, generate_audio=False), format="json"
    )
    assert response.status_code == 402
    assert stored_names() == []


def test_a_data_url_that_is_not_base64_is_a_400(team, catalog, enqueued, media_storage):
    body = request_body()
    body["frame_images"][0]["image_url"]["url"] = "data:image/png;base64,AAAAA"
    response = team.client("member").post(f"{API}/jobs/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["frame_images"][0]["code"] == "invalid_url"
    assert stored_names() == [] and not VideoJob.objects.filter(prompt="A fox").exists()


def test_a_stored_input_gone_from_storage_fails_the_job_without_sending_it(created):
    default_storage.delete(created.frame_images[0]["image_url"]["stored"]["name"])
    with responses.RequestsMock():  # any request to the provider would fail the test
        result = job_submit(job_id=created.pk)
    created.refresh_from_db()
    assert result.to_status == "failed" and created.failure_reason == "input_unavailable"
    assert "frame_images-0.png" in created.error


def test_stored_media_go_to_the_output_storage_setting(team, catalog, enqueued, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "videos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "videos")},
        },
    }
    settings.VIDEOGEN = {**settings.VIDEOGEN, "OUTPUT_STORAGE": "videos"}
    response = team.client("member").post(f"{API}/jobs/", request_body(), format="json")
    assert response.status_code == 202
    assert len(list((tmp_path / "videos").glob("**/inputs/*"))) == 2
