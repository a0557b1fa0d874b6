"""Fixtures of the API tests: two workspaces with every role, clients, a catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_job, make_member, make_user, make_workspace
from videogen.models import Role, VideoJob, Workspace
from videogen.provider.types import VideoModelInfo
from videogen.services.catalog import catalog_sync
from videogen.simulator.catalog import DEFAULT_MODELS

API = "/videogen/api"
PROVIDER = "https://openrouter.test/api/v1"


@pytest.fixture(autouse=True)
def _fast_and_unthrottled(settings):
    """No throttling unless a test sets a rate (the cache would carry counts across tests);
    a cheap password hasher, since every fixture user gets a password."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def provider(settings):
    """VIDEOGEN pointed at a fake real provider (mock it with ``responses``)."""
    settings.VIDEOGEN = {"API_KEY": "sk-test", "BASE_URL": PROVIDER, "SIMULATOR": False}
    return PROVIDER


@pytest.fixture
def catalog(db):
    """The simulator's models in the local catalog, without starting the simulator."""
    catalog_sync(models=[VideoModelInfo.from_json(spec.to_json()) for spec in DEFAULT_MODELS])


def client_for(user=None, *, token: bool = True) -> APIClient:
    client = APIClient()
    if user is not None:
        if token:
            key = Token.objects.get_or_create(user=user)[0].key
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        else:
            client.force_authenticate(user)
    return client


@dataclass
class Team:
    """Workspace ``a`` (a viewer, a member, an admin, jobs) and a foreign workspace ``b``."""

    a: Workspace
    b: Workspace
    viewer: object
    member: object
    admin: object
    outsider: object  # member of b only
    jobs: dict[str, VideoJob] = field(default_factory=dict)
    foreign: dict[str, VideoJob] = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        return client_for(getattr(self, role))


@pytest.fixture
def team(db) -> Team:
    a, b = make_workspace("studio-a"), make_workspace("studio-b")
    team = Team(
        a=a,
        b=b,
        viewer=make_member(a, make_user("viewer"), Role.VIEWER),
        member=make_member(a, make_user("member"), Role.MEMBER),
        admin=make_member(a, make_user("admin"), Role.ADMIN),
        outsider=make_member(b, make_user("outsider"), Role.ADMIN),
    )
    for workspace, store in ((a, team.jobs), (b, team.foreign)):
        store["queued"] = make_job(workspace, prompt=f"queued job of {workspace.slug}")
        store["pending"] = make_job(
            workspace,
            status="pending",
            provider_job_id=f"vid-{workspace.slug}-pending",
            prompt=f"pending job of {workspace.slug}",
        )
        store["completed"] = make_job(
            workspace,
            status="completed",
            provider_job_id=f"vid-{workspace.slug}-done",
            unsigned_urls=["https://cdn.test/0.mp4"],
            prompt=f"completed job of {workspace.slug}",
        )
    return team
