"""The catalog: capabilities and prices readable; *Sync now* asks the workers."""

import html
import json

import pytest
from django.urls import reverse

from tests.admin.scene import sync_catalog
from videogen.models import VideoModel
from videogen.services import queue

pytestmark = pytest.mark.django_db

SYNC = "admin:videogen_videomodel_sync"


def test_the_list_shows_capabilities_and_prices_in_words(admin_client):
    sync_catalog()
    page = admin_client.get(reverse("admin:videogen_videomodel_changelist")).content.decode()
    assert 'per second: <span class="vg-money">0.20 USD</span>' in page
    assert 'per second, with audio: <span class="vg-money">0.40 USD</span>' in page
    assert '5 s video: <span class="vg-money">0.45 USD</span>' in page
    assert "4, 6, 8 s" in page and "Sync now" in page


def test_a_model_page_lists_what_it_can_do(admin_client):
    sync_catalog()
    model = VideoModel.objects.get(model_id="bytedance/seedance-1-pro")
    page = admin_client.get(
        reverse("admin:videogen_videomodel_change", args=[model.pk])
    ).content.decode()
    assert "<dt>Resolutions</dt><dd>480p, 720p, 1080p</dd>" in page
    assert 'per second, 1080p: <span class="vg-money">0.15 USD</span>' in page


def test_sync_now_asks_the_workers_and_says_so(admin_client, monkeypatch):
    asked = []
    monkeypatch.setattr(queue, "enqueue_catalog_sync", lambda: asked.append(1) or True)
    response = admin_client.post(reverse(SYNC), follow=True)
    assert asked == [1]
    assert "Catalog sync queued" in response.content.decode()


def test_sync_now_fills_the_catalog_when_tasks_run_at_once(
    admin_client, app_on_simulator, settings
):
    VideoModel.objects.all().delete()
    settings.VIDEOGEN = {**settings.VIDEOGEN, "TASKS_SYNC": True}
    admin_client.post(reverse(SYNC))
    assert VideoModel.objects.filter(is_active=True).count() == 5


def test_sync_now_is_a_post_for_staff_who_may_change_the_catalog(
    admin_client, viewer_client, monkeypatch
):
    asked = []
    monkeypatch.setattr(queue, "enqueue_catalog_sync", lambda: asked.append(1) or True)
    assert admin_client.get(reverse(SYNC)).status_code == 405
    assert viewer_client.post(reverse(SYNC)).status_code == 403
    page = viewer_client.get(reverse("admin:videogen_videomodel_changelist")).content.decode()
    assert "Sync now" not in page
    assert asked == []


def catalog_model_form(model: VideoModel, **changes) -> dict:
    data = {
        "model_id": model.model_id,
        "canonical_slug": model.canonical_slug,
        "name": model.name,
        "description": model.description,
        "provider_created_at_0": "",
        "provider_created_at_1": "",
        "supported_durations": json.dumps(model.supported_durations),
        "supported_resolutions": json.dumps(model.supported_resolutions),
        "supported_aspect_ratios": json.dumps(model.supported_aspect_ratios),
        "supported_sizes": json.dumps(model.supported_sizes),
        "supported_frame_images": json.dumps(model.supported_frame_images),
        "generate_audio": "unknown",
        "seed": "unknown",
        "pricing_skus": json.dumps(model.pricing_skus),
        "allowed_passthrough_parameters": json.dumps(model.allowed_passthrough_parameters),
        "is_active": "on",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 5000 + "]" * 5000, "too_deep"),  # was a RecursionError: a 500
        ('["\\ud800"]', "invalid_characters"),  # was stored, then a UnicodeEncodeError
        ('{"a\\u0000": 1}', "null_characters"),
        ("[1e400]", "number_out_of_range"),
    ],
)
def test_catalog_json_fields_refuse_hostile_json(admin_client, text, code):
    model = VideoModel.objects.create(model_id="acme/one", name="One", supported_durations=[4])
    url = reverse("admin:videogen_videomodel_change", args=[model.pk])
    response = admin_client.post(url, catalog_model_form(model, supported_sizes=text))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()
    assert list(errors) == ["supported_sizes"]
    assert [e.code for e in errors["supported_sizes"]] == [code]
    assert html.escape(text[:50]) in response.content.decode()  # shown back as typed
    model.refresh_from_db()
    assert model.supported_sizes is None


def test_catalog_json_fields_still_save_good_json(admin_client):
    model = VideoModel.objects.create(model_id="acme/one", name="One", supported_durations=[4])
    url = reverse("admin:videogen_videomodel_change", args=[model.pk])
    response = admin_client.post(url, catalog_model_form(model, supported_sizes='["1280x720"]'))
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.supported_sizes == ["1280x720"]
