"""Serializers and the error translation, without HTTP."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from tests.factories import make_job, make_user, make_workspace
from videogen.api.exceptions import validation_error_from_django, videogen_exception_handler
from videogen.api.serializers import (
    GenerationSerializer,
    JobCreateSerializer,
    JobSerializer,
    UsageQuerySerializer,
)
from videogen.models import OutputStatus, VideoModel, VideoOutput
from videogen.services.jobs.request import JobRequest
from videogen.services.money.budgets import BudgetCheck, BudgetExceededError

pytestmark = pytest.mark.django_db


def serialize(job):
    request = APIRequestFactory().get("/")
    return JobSerializer(job, context={"request": request}).data


def test_blank_request_fields_are_null_and_given_ones_kept():
    job = make_job(prompt="p", size="1280x720", seed=3, callback_url="https://x.test/h")
    data = serialize(job)
    assert (data["aspect_ratio"], data["resolution"]) == (None, None)
    assert (data["size"], data["seed"], data["callback_url"]) == ("1280x720", 3, "https://x.test/h")
    assert data["created_by"] is None
    job.created_by = make_user("someone")
    assert serialize(job)["created_by"] == "someone"


def test_outputs_of_a_completed_job():
    job = make_job(status="completed", unsigned_urls=["u0", "u1"], provider_job_id="p")
    VideoOutput.objects.create(job=job, index=1, status=OutputStatus.STORED, size_bytes=5)
    VideoOutput.objects.create(job=job, index=0, status=OutputStatus.FAILED)
    outputs = serialize(job)["outputs"]
    assert [(o["index"], o["stored"], o["size_bytes"]) for o in outputs] == [
        (0, False, None),
        (1, True, 5),
    ]
    assert outputs[1]["url"].endswith(f"/jobs/{job.public_id}/content/?index=1")


def test_a_completed_job_without_urls_has_one_output_and_others_none():
    assert len(serialize(make_job(status="completed", provider_job_id="q"))["outputs"]) == 1
    assert serialize(make_job(status="pending"))["outputs"] == []


def test_django_field_errors_keep_codes_and_params():
    error = ValidationError(
        {
            "duration": [ValidationError("at most %(limit)s", code="too_big", params={"limit": 8})],
            NON_FIELD_ERRORS: [ValidationError("whole request", code="too_large")],
        }
    )
    detail = validation_error_from_django(error).get_full_details()
    assert detail == {
        "duration": [{"message": "at most 8", "code": "too_big"}],
        "non_field_errors": [{"message": "whole request", "code": "too_large"}],
    }
    plain = validation_error_from_django(ValidationError("oops", code="bad")).get_full_details()
    assert plain == {"non_field_errors": [{"message": "oops", "code": "bad"}]}


def test_the_handler_shapes_budget_errors():
    workspace = make_workspace()
    check = BudgetCheck(workspace, Decimal("10"), Decimal("8"), Decimal("1.5"), Decimal("2"))
    response = videogen_exception_handler(BudgetExceededError(check), {})
    assert response.status_code == 402
    assert response.data == {
        "detail": str(BudgetExceededError(check)),
        "code": "budget_exceeded",
        "currency": "USD",
        "budget": "10",
        "spent": "8",
        "in_flight": "1.5",
        "estimate": "2",
        "projected": "11.5",
    }


def test_the_handler_leaves_unexpected_errors_alone():
    assert videogen_exception_handler(RuntimeError("bug"), {}) is None


# --- job requests: the request schema's validation ------------------------------------------


@pytest.fixture
def veo():
    return VideoModel.objects.create(
        model_id="google/veo-3.1", name="Veo", supported_durations=[4, 8], seed=True
    )


def test_the_request_serializer_validates_with_the_schemas_codes(veo):
    body = GenerationSerializer(data={"model": veo.model_id, "duration": "8", "fps": 24})
    assert not body.is_valid()
    assert {field: [e.code for e in errors] for field, errors in body.errors.items()} == {
        "duration": ["invalid_type"],  # strict JSON types: no coercion of "8"
        "fps": ["unknown_field"],
        "prompt": ["required"],
    }


@pytest.mark.parametrize("data", [None, [], "text"])
def test_the_request_serializer_needs_an_object(data):
    body = GenerationSerializer(data=data)
    assert not body.is_valid()
    assert [e.code for e in body.errors["non_field_errors"]] == ["invalid_type"]


def test_the_request_serializer_gives_the_cleaned_request(veo):
    body = GenerationSerializer(data={"model": veo.model_id, "prompt": "A fox", "duration": 4})
    assert body.is_valid(), body.errors
    assert isinstance(body.validated_data, JobRequest)
    assert body.validated_data["duration"] == 4 and body.validated_data["seed"] is None
    assert body.validated_data.catalog_entry == veo


def test_the_create_serializer_reports_the_workspace_with_the_request(veo):
    request = APIRequestFactory().post("/")
    request.user = make_user("someone")
    body = JobCreateSerializer(
        data={"workspace": "nowhere", "model": veo.model_id, "duration": 5},
        context={"request": request},
    )
    assert body.named_workspace() is None
    assert not body.is_valid()
    assert {field: [e.code for e in errors] for field, errors in body.errors.items()} == {
        "workspace": ["does_not_exist"],
        "duration": ["unsupported_by_model"],
        "prompt": ["required"],
    }


# --- usage report parameters -----------------------------------------------------------------


def test_usage_query_defaults_to_this_month():
    query = UsageQuerySerializer(data={})
    assert query.is_valid(), query.errors
    today = timezone.localdate()
    assert query.validated_data["start"] == today.replace(day=1)
    assert query.validated_data["end"].month == today.month
    assert query.validated_data["group_by"] == ("model",)


def test_usage_query_month_and_start_only():
    query = UsageQuerySerializer(data={"month": "2024-02", "group_by": "model,day,model"})
    assert query.is_valid(), query.errors
    assert (query.validated_data["start"], query.validated_data["end"]) == (
        date(2024, 2, 1),
        date(2024, 2, 29),
    )
    assert query.validated_data["group_by"] == ("model", "day")
    query = UsageQuerySerializer(data={"start": "2020-01-01", "tz": "Asia/Tokyo"})
    assert query.is_valid(), query.errors
    assert query.validated_data["end"] >= date(2020, 1, 1)
    assert str(query.validated_data["tz"]) == "Asia/Tokyo"


def test_the_job_list_renders_each_job_as_drfs_own_field_by_field_path(
    team, django_assert_max_num_queries
):
    """JobSerializer.to_representation skips DRF's generic per-field path, and the list
    loads only the columns it shows, for speed (#15): a page of the list through the API
    equals what ``Serializer.to_representation`` renders for the same jobs loaded whole,
    for jobs of every shape, still in three queries (nothing shown was left unloaded)."""
    from rest_framework import serializers
    from rest_framework.renderers import JSONRenderer

    from tests.api.conftest import client_for
    from videogen.selectors import jobs_for_user

    stored = {"stored": {"name": "m/a.png", "media_type": "image/png", "size_bytes": 3}}
    make_job(
        team.a,
        status="completed",
        provider_job_id="shapes-1",
        created_by=team.member,
        cost="1.25",
        is_byok=True,
        seed=7,
        size="1280x720",
        aspect_ratio="16:9",
        generate_audio=True,
        callback_url="https://hooks.test/x",
        unsigned_urls=["https://cdn.test/a.mp4", "https://cdn.test/b.mp4"],
        frame_images=[{"type": "image_url", "image_url": stored, "frame_type": "first_frame"}],
        input_references=[{"type": "image_url", "image_url": {"url": "https://img.test/r.png"}}],
        provider={"only": ["google-vertex"]},
        finished_at=timezone.now(),
        submitted_at=timezone.now(),
    )
    make_job(team.a, status="failed", error="No.", failure_reason="provider_failed", cost=None)
    VideoOutput.objects.create(
        job=team.jobs["completed"], index=0, status=OutputStatus.STORED, size_bytes=9, sha256="ab"
    )

    client = client_for(team.admin)
    client.get("/videogen/api/jobs/")  # once first: a connection's one-time checks
    with django_assert_max_num_queries(3):
        response = client.get("/videogen/api/jobs/?page_size=100")

    assert response.status_code == 200
    request = response.wsgi_request
    request.query_params = request.GET  # what DRF's serializer context reads
    jobs = jobs_for_user(user=team.admin).order_by("-created_at", "-id")
    serializer = JobSerializer(context={"request": request})
    generic = [serializers.ModelSerializer.to_representation(serializer, job) for job in jobs]
    assert len(generic) == 5
    assert response.json()["results"] == json.loads(JSONRenderer().render(generic))
