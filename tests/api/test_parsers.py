"""The API's request size limits agree with each other and with what their 413 says: Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (met first), videogen's cap, the ``data:`` URL cap."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.conftest import API
from videogen.services.jobs import request as validation

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"


def job_with_image(size: int) -> dict:
    """A job request whose first frame is a ``data:`` URL of ``size`` bytes (as sent)."""
    prefix = "data:image/png;base64,"
    raw = b"\x89PNG" + b"\x07" * ((size - len(prefix)) * 3 // 4 - 4)
    url = prefix + base64.b64encode(raw).decode()
    return {
        "workspace": "studio-a",
        "model": VEO,
        "frame_images": [
            {"type": "image_url", "image_url": {"url": url}, "frame_type": "first_frame"}
        ],
    }


def test_a_body_over_djangos_limit_is_refused_naming_that_limit(team, catalog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default
    response = team.client("member").post(f"{API}/jobs/", job_with_image(3 * 2**20), format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert "larger than 2.5 MiB" in response.json()["detail"]


def test_a_body_over_videogens_cap_is_refused_naming_it(team, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None  # the site lifted Django's limit
    size = validation.MAX_REQUEST_BYTES + 1
    payload = b'{"prompt": "' + b"x" * (size - 14) + b'"}'
    response = team.client("member").post(f"{API}/jobs/", payload, content_type="application/json")
    assert response.status_code == 413
    assert "larger than 45 MiB" in response.json()["detail"]


def test_with_the_sites_settings_a_data_url_at_its_cap_is_accepted(
    team, catalog, enqueued, media_storage
):
    # The demo site raises DATA_UPLOAD_MAX_MEMORY_SIZE to videogen's cap, as the README says.
    body = job_with_image(validation.MAX_DATA_URL_BYTES - 64)
    assert len(json.dumps(body)) < validation.MAX_REQUEST_BYTES
    response = team.client("member").post(f"{API}/jobs/", body, format="json")
    assert response.status_code == 202, response.content[:500]
    image = response.json()["frame_images"][0]["image_url"]
    assert image["url"] is None and image["size_bytes"] > 7 * 2**20


def test_one_data_url_over_its_cap_is_a_field_error_naming_the_cap(team, catalog, enqueued):
    body = job_with_image(validation.MAX_DATA_URL_BYTES + 64)
    response = team.client("member").post(f"{API}/jobs/estimate/", body, format="json")
    assert response.status_code == 400
    error = response.json()["errors"]["frame_images"][0]
    assert error["code"] == "too_large" and "at most 10 MiB" in error["message"]
