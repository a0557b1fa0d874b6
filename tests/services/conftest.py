import pytest
import responses

from videogen.provider.types import VideoModelInfo
from videogen.services.catalog import catalog_sync

API = "https://openrouter.test/api/v1"

VEO = VideoModelInfo.from_json(
    {
        "id": "google/veo-3.1",
        "canonical_slug": "google/veo-3.1",
        "name": "Veo 3.1",
        "created": 1700000000,
        "supported_durations": [4, 6, 8],
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": None,
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "pricing_skus": {"per_second_720p": "0.10"},
        "allowed_passthrough_parameters": [],
    }
)


@pytest.fixture
def provider_settings(settings):
    settings.VIDEOGEN = {
        "API_KEY": "sk-test",
        "BASE_URL": API,
        "WEBHOOK_SECRETS": ["whsec-test"],
        "TASKS_SYNC": False,
    }
    return settings.VIDEOGEN


@pytest.fixture
def catalog(db):
    catalog_sync(models=[VEO])


@pytest.fixture
def mocked_provider(provider_settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
