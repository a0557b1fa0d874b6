import pytest

from videogen import tasks
from videogen.models import VideoModel

pytestmark = pytest.mark.django_db


def test_sync_models_task_fills_the_catalog(app_on_simulator):
    VideoModel.objects.all().delete()
    assert "created" in tasks.sync_models()
    assert VideoModel.objects.filter(is_active=True).count() >= 4


def test_submit_task_submits(app_on_simulator, enqueued, workspace):
    from videogen.services.jobs.submission import job_create

    job = job_create(workspace=workspace, data={"model": "google/veo-3.1", "prompt": "x"})
    assert tasks.submit_job(job.pk) == "pending"


def test_reconcile_task_sweeps_within_its_window(app_on_simulator, settings):
    settings.VIDEOGEN = {
        **settings.VIDEOGEN,
        "RECONCILE_WINDOW_SECONDS": 0.3,
        "RECONCILE_IDLE_SECONDS": 0.1,
    }
    assert "sweeps" in tasks.reconcile()
