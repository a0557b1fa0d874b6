"""Validation through the API: the lifecycle service's rules, surfaced as 400 field errors
with the service's codes, on both job creation and the estimate. Nothing is stored."""

from __future__ import annotations

import base64
import hashlib

import pytest

from tests.api.conftest import API
from videogen.models import VideoJob
from videogen.services.jobs import request as validation

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"  # durations 4/6/8, 720p/1080p, no exact sizes, seed, audio
SORA = "openai/sora-2"  # exact sizes, no seed
PNG = "data:image/png;base64,iVBORw0KGgo="


def frame(url=PNG, frame_type="first_frame", **extra):
    return {"type": "image_url", "image_url": {"url": url}, "frame_type": frame_type, **extra}


CASES = [
    # the seed's enums
    ({"aspect_ratio": "5:4"}, "aspect_ratio", "invalid_choice"),
    ({"resolution": "8K"}, "resolution", "invalid_choice"),
    ({"duration": "long"}, "duration", "invalid_type"),
    ({"duration": 0}, "duration", "min_value"),
    ({"size": "big"}, "size", "invalid_format"),
    ({"generate_audio": "yes"}, "generate_audio", "invalid_type"),
    ({"model": "nobody/nothing"}, "model", "unknown_model"),
    ({"creativity": 0.5}, "creativity", "upscaling_only"),
    ({"colour": "red"}, "colour", "unknown_field"),
    # the model's capabilities
    ({"duration": 5}, "duration", "unsupported_by_model"),
    ({"size": "1280x720"}, "size", "unsupported_by_model"),
    ({"model": SORA, "seed": 7}, "seed", "unsupported_by_model"),
    ({"model": SORA, "size": "640x480"}, "size", "unsupported_by_model"),
    (
        {"provider": {"options": {"google": {"parameters": {"x": 1}}}}},
        "provider",
        "unsupported_by_model",
    ),
    # frame_images and input_references shapes
    ({"frame_images": "nope"}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(), frame(), frame()]}, "frame_images", "too_many"),
    ({"frame_images": [frame(frame_type="middle")]}, "frame_images", "invalid_choice"),
    ({"frame_images": [frame(), frame()]}, "frame_images", "duplicate_frame_type"),
    ({"frame_images": [frame(extra=1)]}, "frame_images", "unknown_field"),
    (
        {"frame_images": [{"type": "image_url", "frame_type": "first_frame"}]},
        "frame_images",
        "required",
    ),
    # every wrong type or missing key of the spec's FrameImage / InputReference: a 400 (the
    # provider would refuse the job after a 202)
    ({"frame_images": [frame(image_url=None)]}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(image_url="https://x.test/a.png")]}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(image_url={"url": None})]}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(image_url={"url": 5})]}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(image_url={})]}, "frame_images", "required"),
    ({"frame_images": [frame(frame_type=None)]}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(type=None)]}, "frame_images", "invalid_type"),
    ({"frame_images": [frame(type=["image_url"])]}, "frame_images", "invalid_type"),
    ({"frame_images": [None]}, "frame_images", "invalid_type"),
    (
        {"input_references": [{"type": "image_url", "image_url": None}]},
        "input_references",
        "invalid_type",
    ),
    ({"input_references": [{"type": "video_url"}]}, "input_references", "required"),
    ({"input_references": [{"image_url": {"url": PNG}}]}, "input_references", "required"),
    (
        {"input_references": [{"type": None, "image_url": {"url": PNG}}]},
        "input_references",
        "invalid_type",
    ),
    (
        {"input_references": [{"type": "image_url", "image_url": {"url": []}}]},
        "input_references",
        "invalid_type",
    ),
    ({"input_references": [{"type": "text", "text": "x"}]}, "input_references", "invalid_choice"),
    (
        {"input_references": [{"type": "audio_url", "audio_url": {"url": PNG}}]},
        "input_references",
        "invalid_url",
    ),
    (
        {"input_references": [{"type": "image_url", "image_url": {"url": "data:nope"}}]},
        "input_references",
        "invalid_url",
    ),
    # callback_url: HTTPS only, never private or loopback (outside the simulator)
    ({"callback_url": "http://example.com/hook"}, "callback_url", "insecure_url"),
    ({"callback_url": "https://127.0.0.1/hook"}, "callback_url", "private_url"),
    ({"callback_url": "https://10.1.2.3/hook"}, "callback_url", "private_url"),
    ({"callback_url": "https://[::1]/hook"}, "callback_url", "private_url"),
    ({"callback_url": "https://localhost/hook"}, "callback_url", "private_url"),
    ({"callback_url": "https://169.254.169.254/latest"}, "callback_url", "private_url"),
    ({"callback_url": "not a url"}, "callback_url", "invalid_url"),
]


@pytest.fixture
def real_provider(settings):
    settings.VIDEOGEN = {"API_KEY": "sk-test", "SIMULATOR": False}


@pytest.mark.parametrize("endpoint", ["create", "estimate"])
@pytest.mark.parametrize(("extra", "field", "code"), CASES)
def test_field_errors(team, catalog, enqueued, real_provider, endpoint, extra, field, code):
    body = {"model": VEO, "prompt": "A fox", **extra}
    if endpoint == "create":
        url, body = f"{API}/jobs/", {"workspace": "studio-a", **body}
    else:
        url = f"{API}/jobs/estimate/"
    response = team.client("member").post(url, body, format="json")
    assert response.status_code == 400, response.json()
    codes = [e["code"] for e in response.json()["errors"].get(field, [])]
    assert code in codes, response.json()
    assert VideoJob.objects.count() == 6 and enqueued == []


def test_the_simulator_accepts_local_http_callbacks(team, catalog, enqueued, settings):
    settings.VIDEOGEN = {"SIMULATOR": True}
    response = team.client("member").post(
        f"{API}/jobs/",
        {
            "workspace": "studio-a",
            "model": VEO,
            "prompt": "x",
            "callback_url": "http://127.0.0.1:8000/videogen/webhooks/openrouter/",
        },
        format="json",
    )
    assert response.status_code == 202, response.json()


def test_a_data_url_over_its_cap(team, catalog, enqueued, monkeypatch):
    monkeypatch.setattr(validation, "MAX_DATA_URL_BYTES", 64)
    response = team.client("member").post(
        f"{API}/jobs/estimate/",
        {"model": VEO, "frame_images": [frame(url=PNG + "A" * 100)]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["frame_images"][0]["code"] == "too_large"


def test_a_valid_image_to_video_request(team, catalog, enqueued):
    response = team.client("member").post(
        f"{API}/jobs/",
        {
            "workspace": "studio-a",
            "model": VEO,
            "frame_images": [
                frame(),
                frame(url="https://img.test/last.png", frame_type="last_frame"),
            ],
            "input_references": [{"type": "image_url", "image_url": {"url": PNG}}],
            "resolution": "1080p",
            "aspect_ratio": "16:9",
            "seed": 42,
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    data = response.json()
    assert [f["frame_type"] for f in data["frame_images"]] == ["first_frame", "last_frame"]
    # The data: URL is stored as a file and described, never sent back.
    assert data["input_references"] == [
        {
            "type": "image_url",
            "image_url": {
                "url": None,
                "media_type": "image/png",
                "size_bytes": 8,
                "sha256": hashlib.sha256(base64.b64decode(PNG.split(",")[1])).hexdigest(),
            },
        }
    ]
    assert (data["resolution"], data["aspect_ratio"], data["seed"]) == ("1080p", "16:9", 42)
