import pytest
from django.urls import reverse

from tests.factories import make_job

pytestmark = pytest.mark.django_db

MODELS = ["workspace", "videojob", "jobevent", "usageentry", "webhookdelivery", "videomodel"]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_working_changelist(admin_client, model):
    make_job()
    response = admin_client.get(reverse(f"admin:videogen_{model}_changelist"))
    assert response.status_code == 200


def test_job_change_page_renders(admin_client):
    job = make_job()
    response = admin_client.get(reverse("admin:videogen_videojob_change", args=[job.pk]))
    assert response.status_code == 200
    assert str(job.public_id) in response.content.decode()
