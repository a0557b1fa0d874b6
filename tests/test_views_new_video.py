"""The "New video" form as members use it: the model's options and the live quote (htmx
parts), frame images uploaded or linked, reference media, and the no-JavaScript path."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.factories import make_job, make_member, make_workspace
from videogen import forms as page_forms
from videogen.models import OutputStatus, Role, VideoJob, VideoOutput

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def ws(app_on_simulator):
    return make_workspace("studio", monthly_budget=Decimal("10"))


def client_for(ws, role=Role.MEMBER) -> Client:
    client = Client()
    client.force_login(make_member(ws, role=role))
    return client


def part(client, ws, target, **params):
    url = reverse("videogen:job-form", args=[ws.slug])
    return client.get(url, params, headers={"HX-Request": "true", "HX-Target": target})


def test_choosing_a_model_sends_its_options_and_a_new_quote(ws):
    response = part(client_for(ws), ws, "vg-model-options", model="minimax/hailuo-02")
    text = response.content.decode()
    assert response.status_code == 200 and "<html" not in text
    assert text.startswith('<div id="vg-model-options"')
    assert '<option value="6" selected>6 seconds</option>' in text
    assert "With sound" not in text and "Start from an image" not in text
    assert 'id="vg-quote" hx-swap-oob="innerHTML"' in text and "0.50 USD" in text


def test_a_change_sends_the_quote_with_the_budget_left(ws):
    make_job(ws, status="completed", cost="2.50")
    make_job(ws, status="in_progress", estimated_cost=Decimal("1.5"))
    client = client_for(ws)
    quote = part(client, ws, "vg-quote", model=VEO, duration="8", generate_audio="on")
    text = quote.content.decode()
    assert "3.20 USD" in text  # 8 s × 0.40
    assert "6.00 USD" in text  # 10 − 2.50 spent − 1.50 in flight
    assert "2.80 USD" in text  # left after this one
    silent = part(client, ws, "vg-quote", model=VEO, duration="8").content.decode()
    assert "1.60 USD" in silent  # the box unchecked: no sound


def test_a_quote_over_the_budget_says_it_would_be_refused(ws):
    make_job(ws, status="completed", cost="9.50")
    text = part(client_for(ws), ws, "vg-quote", model=VEO, duration="8").content.decode()
    assert "over by 1.10 USD" in text and "Over budget:" in text


@pytest.mark.parametrize("params", [{"model": "nope"}, {"model": VEO, "duration": "x\x00"}, {}])
def test_odd_values_still_get_a_quote_never_an_error(ws, params):
    response = part(client_for(ws), ws, "vg-quote", **params)
    assert response.status_code == 200 and b"Estimated cost" in response.content


def test_viewers_and_outsiders_get_no_form_parts(ws):
    assert part(client_for(ws, Role.VIEWER), ws, "vg-quote", model=VEO).status_code == 403
    outsider = client_for(make_workspace("elsewhere"))
    assert part(outsider, ws, "vg-quote", model=VEO).status_code == 404


def test_an_uploaded_first_frame_is_stored_and_becomes_the_poster(
    ws, enqueued, media_storage, django_capture_on_commit_callbacks
):
    client = client_for(ws)
    frame = SimpleUploadedFile("start.png", PNG, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("videogen:workspace", args=[ws.slug]),
            {"model": VEO, "prompt": "", "duration": "4", "first_frame_file": frame},
        )
    assert response.status_code == 302, response.context["form"].errors
    job = VideoJob.objects.get()
    stored = job.frame_images[0]["image_url"]["stored"]
    assert job.frame_images[0]["frame_type"] == "first_frame"
    assert stored["media_type"] == "image/png" and stored["size_bytes"] == len(PNG)
    url = reverse("videogen:job-input", args=[ws.slug, job.public_id, "frame_images", 0])
    image = client.get(url)
    assert image.status_code == 200 and b"".join(image.streaming_content) == PNG
    assert image["Content-Type"] == "image/png"
    job_page = client.get(response["Location"]).content.decode()
    assert f'href="{url}">uploaded image/png</a>' in job_page
    other = client_for(make_workspace("elsewhere"))
    assert other.get(url).status_code == 404
    # Once the video is there, the frame is its poster.
    VideoJob.objects.filter(pk=job.pk).update(status="completed")
    output = VideoOutput(job=job, index=0, status=OutputStatus.STORED, content_type="video/mp4")
    output.file.save("output-0.mp4", ContentFile(b"\0\0\0\x18ftypmp42"), save=True)
    assert f'poster="{url}"' in client.get(response["Location"]).content.decode()


def test_a_linked_frame_and_references_are_sent_as_given(ws, enqueued):
    response = client_for(ws).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {
            "model": VEO,
            "prompt": "A kite",
            "duration": "4",
            "last_frame_url": "https://example.com/end.png",
            "reference_urls": "https://example.com/look.jpg\nhttps://example.com/voice.mp3",
        },
    )
    assert response.status_code == 302
    job = VideoJob.objects.get()
    assert job.frame_images == [
        {
            "type": "image_url",
            "image_url": {"url": "https://example.com/end.png"},
            "frame_type": "last_frame",
        }
    ]
    assert [r["type"] for r in job.input_references] == ["image_url", "audio_url"]


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        (
            {"first_frame_file": SimpleUploadedFile("a.txt", b"hi", content_type="text/plain")},
            "first_frame_file",
            "is not an image file",
        ),
        ({"reference_urls": "https://example.com/thing"}, "reference_urls", "upload the file"),
    ],
)
def test_bad_inputs_are_errors_beside_their_field(ws, enqueued, fields, field, says):
    response = client_for(ws).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": VEO, "prompt": "A kite", "duration": "4", **fields},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and says in " ".join(errors[field])
    assert VideoJob.objects.count() == 0


def test_a_file_too_large_is_refused_with_the_limit(ws, enqueued, monkeypatch):
    monkeypatch.setattr(page_forms, "MAX_UPLOAD_BYTES", 10)
    big = SimpleUploadedFile("big.png", PNG, content_type="image/png")
    response = client_for(ws).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": VEO, "prompt": "A kite", "duration": "4", "first_frame_file": big},
    )
    assert "is larger than" in " ".join(response.context["form"].errors["first_frame_file"])


def test_without_javascript_a_button_shows_the_chosen_models_options(ws, enqueued):
    response = client_for(ws).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": "minimax/hailuo-02", "prompt": "A kite", "duration": "4", "action": "options"},
    )
    assert response.status_code == 200 and VideoJob.objects.count() == 0
    form = response.context["form"]
    assert form.catalog_entry.model_id == "minimax/hailuo-02" and not form.errors
    assert form["prompt"].value() == "A kite"
    assert "Show this model's options" in response.content.decode()
