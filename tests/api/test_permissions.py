"""Roles inside the caller's own workspace: viewers read, members create and act on jobs,
admins also see budgets and usage reports. A role too low is 403 (never 404)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.api.conftest import API
from videogen.api.permissions import HasWorkspaceRole, required_roles
from videogen.models import JobStatus, VideoJob

pytestmark = pytest.mark.django_db

ALLOWED, DENIED = True, False

# (method, path, body) → expected outcome per role (viewer, member, admin).
MATRIX = [
    ("get", "/jobs/", None, (ALLOWED, ALLOWED, ALLOWED)),
    ("get", "/jobs/{queued}/", None, (ALLOWED, ALLOWED, ALLOWED)),
    ("get", "/jobs/{completed}/content/", None, (ALLOWED, ALLOWED, ALLOWED)),
    ("post", "/jobs/estimate/", "estimate", (ALLOWED, ALLOWED, ALLOWED)),
    ("post", "/jobs/", "create", (DENIED, ALLOWED, ALLOWED)),
    ("post", "/jobs/{queued}/cancel/", None, (DENIED, ALLOWED, ALLOWED)),
    ("post", "/jobs/{completed}/refresh/", None, (DENIED, ALLOWED, ALLOWED)),
    ("get", "/models/", None, (ALLOWED, ALLOWED, ALLOWED)),
    ("get", "/workspaces/", None, (ALLOWED, ALLOWED, ALLOWED)),
    ("get", "/workspaces/studio-a/", None, (ALLOWED, ALLOWED, ALLOWED)),
    ("get", "/workspaces/studio-a/usage/", None, (DENIED, DENIED, ALLOWED)),
    ("get", "/workspaces/studio-a/usage/?format=csv", None, (DENIED, DENIED, ALLOWED)),
]
BODIES = {
    "estimate": {"model": "google/veo-3.1", "prompt": "x", "duration": 4},
    "create": {"workspace": "studio-a", "model": "google/veo-3.1", "prompt": "x", "duration": 4},
}


@pytest.mark.parametrize(("index", "role"), list(enumerate(["viewer", "member", "admin"])))
@pytest.mark.parametrize(("method", "template", "body", "outcomes"), MATRIX)
def test_roles(team, catalog, enqueued, monkeypatch, index, role, method, template, body, outcomes):
    monkeypatch.setattr(
        "videogen.api.views.job_content_open",
        lambda **kw: SimpleNamespace(
            content_type="video/mp4",
            content_length=1,
            iter_chunks=lambda: iter([b"v"]),
            close=lambda: None,
        ),
    )
    url = API + template.format(**{k: j.public_id for k, j in team.jobs.items()})
    jobs_before = VideoJob.objects.count()
    response = getattr(team.client(role), method)(url, BODIES.get(body), format="json")
    if outcomes[index]:
        assert response.status_code in (200, 202), (response.status_code, response.content)
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "role_too_low"
        assert role in response.json()["detail"]
        assert VideoJob.objects.count() == jobs_before
        assert VideoJob.objects.get(pk=team.jobs["queued"].pk).status == JobStatus.QUEUED


def test_a_viewer_is_refused_before_validation(team, catalog, enqueued):
    response = team.client("viewer").post(
        f"{API}/jobs/", {"workspace": "studio-a", "model": "nope"}, format="json"
    )
    assert response.status_code == 403


def test_budget_is_shown_to_admins_only(team):
    for role, shown in (("viewer", False), ("member", False), ("admin", True)):
        data = team.client(role).get(f"{API}/workspaces/studio-a/").json()
        assert (data["budget"] is not None) is shown, role


@pytest.mark.parametrize(
    ("method", "action", "role", "allowed"),
    [
        ("GET", "retrieve", "viewer", True),
        ("POST", "cancel", "viewer", False),
        ("POST", "cancel", "member", True),
        ("GET", "usage", "member", False),
        ("GET", "usage", "admin", True),
        ("GET", "retrieve", None, False),
    ],
)
def test_permission_reads_the_role_annotation(method, action, role, allowed):
    view = SimpleNamespace(action=action, roles_by_action={"usage": {"admin"}})
    request = SimpleNamespace(method=method)
    obj = SimpleNamespace(caller_role=role)
    permission = HasWorkspaceRole()
    assert permission.has_object_permission(request, view, obj) is allowed
    if not allowed:
        assert " or ".join(sorted(required_roles(request, view))) in permission.message
