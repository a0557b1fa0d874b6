from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from videogen.models import VideoModel

pytestmark = pytest.mark.django_db


def test_sync_reports_what_changed(app_on_simulator):
    out = StringIO()
    call_command("videogen_sync_models", stdout=out)
    assert "0 created" in out.getvalue()  # app_on_simulator synced already
    assert VideoModel.objects.filter(is_active=True).count() >= 4


def test_provider_error_is_a_command_error(settings, db):
    settings.VIDEOGEN = {
        "API_KEY": "k",
        "BASE_URL": "http://127.0.0.1:9/api/v1",
        "CONNECT_TIMEOUT": 0.5,
    }
    with pytest.raises(CommandError, match="Could not fetch"):
        call_command("videogen_sync_models")


def test_an_empty_answer_leaves_the_catalog_alone_and_warns(app_on_simulator, settings, caplog):
    import responses

    from videogen import tasks

    active = set(VideoModel.objects.filter(is_active=True).values_list("model_id", flat=True))
    settings.VIDEOGEN = {**settings.VIDEOGEN, "BASE_URL": "https://openrouter.test/api/v1"}
    out, err = StringIO(), StringIO()
    with responses.RequestsMock() as mock:
        mock.get("https://openrouter.test/api/v1/videos/models", json={"data": []})
        call_command("videogen_sync_models", stdout=out, stderr=err)
        assert "left as it was" in tasks.sync_models()  # the schedule's task, likewise
    assert "listed no models" in err.getvalue() and "synced:" not in out.getvalue()
    assert "listed no video models" in caplog.text
    still = set(VideoModel.objects.filter(is_active=True).values_list("model_id", flat=True))
    assert still == active and len(active) >= 4
