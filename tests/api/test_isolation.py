"""Workspace isolation: every endpoint and method, from every role of workspace A, against
workspace B's objects. A foreign object must answer exactly like one that does not exist
(404, same body), change nothing, and never reach the provider. Anonymous callers get 401.
"""

from __future__ import annotations

import uuid

import pytest
import responses
from rest_framework.test import APIClient

from tests.api.conftest import API
from videogen.models import JobEvent, VideoJob

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "member", "admin"]
MISSING_JOB = "00000000-0000-4000-8000-00000000dead"
MISSING_SLUG = "no-such-workspace"

# (method, path template, target) — target names the foreign object put in the path.
OBJECT_ENDPOINTS = [
    ("get", "/jobs/{job}/", "queued"),
    ("get", "/jobs/{job}/", "completed"),
    ("put", "/jobs/{job}/", "queued"),
    ("patch", "/jobs/{job}/", "queued"),
    ("delete", "/jobs/{job}/", "queued"),
    ("post", "/jobs/{job}/refresh/", "pending"),
    ("post", "/jobs/{job}/cancel/", "queued"),
    ("get", "/jobs/{job}/content/", "completed"),
    ("get", "/jobs/{job}/content/?index=0", "completed"),
    ("get", "/workspaces/{slug}/", None),
    ("delete", "/workspaces/{slug}/", None),
    ("get", "/workspaces/{slug}/usage/", None),
    ("get", "/workspaces/{slug}/usage/?format=csv", None),
    ("get", "/workspaces/{slug}/usage/?group_by=model,day&month=2026-01", None),
]


def _url(template, job_id, slug):
    return API + template.format(job=job_id, slug=slug)


def _state():
    return sorted(
        VideoJob.objects.values_list(
            "public_id", "status", "version", "updated_at", "poll_attempts"
        )
    ), JobEvent.objects.count()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "template", "target"), OBJECT_ENDPOINTS)
def test_foreign_objects_are_not_found(team, provider, role, method, template, target):
    client = team.client(role)
    foreign_job = team.foreign[target].public_id if target else MISSING_JOB
    before = _state()
    with responses.RequestsMock():  # the provider must not be asked about a foreign job
        foreign = getattr(client, method)(_url(template, foreign_job, team.b.slug), format="json")
        missing = getattr(client, method)(_url(template, MISSING_JOB, MISSING_SLUG), format="json")
    assert _state() == before
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert foreign.status_code in (404, 405)
    if method in ("get", "post"):
        assert foreign.status_code == 404
        assert foreign.json()["code"] == "not_found"


@pytest.mark.parametrize("role", ["member", "admin"])
def test_creating_in_a_foreign_workspace_is_like_a_missing_one(team, catalog, enqueued, role):
    client = team.client(role)
    body = {"model": "google/veo-3.1", "prompt": "x", "duration": 4}
    foreign = client.post(f"{API}/jobs/", {**body, "workspace": team.b.slug}, format="json")
    missing = client.post(f"{API}/jobs/", {**body, "workspace": MISSING_SLUG}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["errors"]["workspace"][0]["code"] == "does_not_exist"
    assert VideoJob.objects.filter(workspace=team.b).count() == 3
    assert enqueued == []


@pytest.mark.parametrize("role", ROLES)
def test_lists_hold_only_the_callers_workspaces(team, role):
    client = team.client(role)
    listed = {job["id"] for job in client.get(f"{API}/jobs/?page_size=100").json()["results"]}
    assert listed == {str(job.public_id) for job in team.jobs.values()}
    for query in (f"workspace={team.b.slug}", f"search={team.b.slug}", "status=completed"):
        results = client.get(f"{API}/jobs/?{query}").json()["results"]
        assert all(job["workspace"] == team.a.slug for job in results)
    workspaces = [w["slug"] for w in client.get(f"{API}/workspaces/").json()]
    assert workspaces == [team.a.slug]


def test_the_outsider_sees_only_b(team):
    client = team.client("outsider")
    listed = {job["id"] for job in client.get(f"{API}/jobs/").json()["results"]}
    assert listed == {str(job.public_id) for job in team.foreign.values()}
    assert client.get(f"{API}/jobs/{team.jobs['queued'].public_id}/").status_code == 404
    assert client.get(f"{API}/workspaces/{team.a.slug}/usage/").status_code == 404


ALL_ENDPOINTS = [
    ("get", "/jobs/"),
    ("post", "/jobs/"),
    ("post", "/jobs/estimate/"),
    ("get", "/jobs/{job}/"),
    ("post", "/jobs/{job}/refresh/"),
    ("post", "/jobs/{job}/cancel/"),
    ("get", "/jobs/{job}/content/"),
    ("get", "/models/"),
    ("get", "/workspaces/"),
    ("get", "/workspaces/{slug}/"),
    ("get", "/workspaces/{slug}/usage/"),
]


@pytest.mark.parametrize(("method", "template"), ALL_ENDPOINTS)
def test_anonymous_callers_are_401(team, method, template):
    before = _state()
    url = _url(template, team.jobs["queued"].public_id, team.a.slug)
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
    assert _state() == before


def test_a_bad_token_is_401(team):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {uuid.uuid4().hex}")
    response = client.get(f"{API}/jobs/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_session_authentication_works_too(team):
    client = APIClient()
    client.force_login(team.viewer)
    assert client.get(f"{API}/jobs/").status_code == 200
