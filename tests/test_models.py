import pytest
from django.db import IntegrityError, transaction

from tests.factories import make_job, make_workspace
from videogen.models import JobStatus, WorkspaceMembership

pytestmark = pytest.mark.django_db


def test_status_rank_orders_the_lifecycle_and_terminal_states_share_the_top():
    order = ["queued", "submitting", "unknown", "pending", "in_progress"]
    assert [JobStatus.rank(s) for s in order] == [0, 1, 2, 3, 4]
    assert {JobStatus.rank(s) for s in JobStatus.terminal()} == {5}


def test_new_job_is_queued_with_a_public_uuid():
    job = make_job()
    assert job.status == JobStatus.QUEUED
    assert job.public_id is not None
    assert not job.is_terminal


def test_request_payload_carries_only_given_fields():
    job = make_job(
        duration=8,
        resolution="720p",
        aspect_ratio="16:9",
        generate_audio=False,
        seed=0,
        frame_images=[
            {
                "type": "image_url",
                "image_url": {"url": "https://x/a.png"},
                "frame_type": "first_frame",
            }
        ],
    )
    assert job.request_payload() == {
        "model": "google/veo-3.1",
        "prompt": "A serene mountain landscape at sunset",
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "duration": 8,
        "seed": 0,
        "generate_audio": False,
        "frame_images": job.frame_images,
    }


def test_provider_job_id_is_unique_but_many_jobs_may_have_none():
    ws = make_workspace()
    make_job(ws)
    make_job(ws)
    make_job(ws, provider_job_id="job-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_job(ws, provider_job_id="job-1")


def test_database_rejects_an_unknown_status_and_a_zero_duration():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_job(status="done")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_job(duration=0)


def test_a_user_is_member_of_a_workspace_once(django_user_model):
    ws = make_workspace()
    user = django_user_model.objects.create_user("u")
    WorkspaceMembership.objects.create(workspace=ws, user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMembership.objects.create(workspace=ws, user=user, role="admin")
