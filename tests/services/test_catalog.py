import pytest

from tests.services.conftest import VEO
from videogen.models import VideoModel
from videogen.provider.types import VideoModelInfo
from videogen.services.catalog import catalog_sync

pytestmark = pytest.mark.django_db

SORA = VideoModelInfo.from_json({**VEO.raw, "id": "openai/sora-2", "name": "Sora 2"})


def test_sync_from_the_simulator_stores_capabilities_and_prices(app_on_simulator):
    model = VideoModel.objects.get(model_id="google/veo-3.1")
    assert model.supported_durations and model.supported_resolutions
    assert isinstance(model.pricing_skus, dict) and model.pricing_skus
    assert model.is_active and model.synced_at is not None


def test_resync_updates_in_place_and_deactivates_models_no_longer_listed():
    first = catalog_sync(models=[VEO, SORA])
    second = catalog_sync(models=[VEO])
    assert (first.created, second.updated, second.deactivated) == (2, 1, 1)
    assert VideoModel.objects.count() == 2
    assert not VideoModel.objects.get(model_id="openai/sora-2").is_active
    catalog_sync(models=[VEO, SORA])
    assert VideoModel.objects.get(model_id="openai/sora-2").is_active
