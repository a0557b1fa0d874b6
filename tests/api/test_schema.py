"""The API against its own OpenAPI schema, with schemathesis (property-based).

The schema is fetched from the live ``schema/`` endpoint through the WSGI app; every operation
then gets generated requests (bounded examples, positive and negative), for every role: the
viewer, member and admin of a workspace that holds jobs in every state, and the admin of
another workspace (whose view of the first must be 404s). Path parameters are drawn from those
real objects (and from the other workspace's) as often as from random values, and job bodies
are sometimes made valid, so success answers are exercised too. Hostile input is mixed in by
the hooks below (``tests.strategies``): lone surrogates, NUL and control characters, numbers
no column holds and over-long values, in bodies (nested ones too), query parameters and path
parameters. The provider is the in-process simulator. Checks: no 5xx, and every status,
content type, header and body as documented.
"""

from __future__ import annotations

import time
import uuid
import zlib
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.core.files.base import ContentFile
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import make_job, make_member, make_user, make_workspace
from tests.strategies import hostile_query, url_hostile_text, with_hostile_value
from videogen import hygiene
from videogen.models import JobStatus, OutputStatus, Role, VideoJob, VideoOutput
from videogen.services.reconcile import job_poll_now
from videogen.services.submission import job_create, job_submit

SCHEMA_PATH = "/videogen/api/schema/?format=json"
SAMPLE = Path(__file__).resolve().parents[2] / "videogen" / "simulator" / "assets" / "sample.mp4"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Fixed ids so the generators below can aim at real objects.
OWN_JOBS = {
    "queued": uuid.UUID("00000000-0000-4000-8000-000000000001"),
    "pending": uuid.UUID("00000000-0000-4000-8000-000000000002"),
    "completed": uuid.UUID("00000000-0000-4000-8000-000000000003"),
    "stored": uuid.UUID("00000000-0000-4000-8000-000000000004"),
    "failed": uuid.UUID("00000000-0000-4000-8000-000000000005"),
}
FOREIGN_JOB = uuid.UUID("00000000-0000-4000-8000-0000000000ff")
OWN_SLUG, FOREIGN_SLUG = "alpha", "beta"
MODELS = ["google/veo-3.1", "minimax/hailuo-02", "openai/sora-2"]

schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())


ROLES = ["viewer", "member", "admin", "outsider"]
# Fixed API tokens, so that the case hook below can pick the role of every generated case.
TOKENS = {role: role.ljust(40, "0") for role in ROLES}


@schema.hook
def flatmap_case(context, case):
    """Each case as one of the four roles."""
    return st.sampled_from(ROLES).map(
        lambda role: _with_headers(case, {"Authorization": f"Token {TOKENS[role]}"})
    )


def _with_headers(case, headers):
    case.headers = {**(case.headers or {}), **headers}
    return case


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """A real job id or workspace slug (ours, or a foreign one) half the time, hostile text
    a quarter of the time."""
    path_parameters = path_parameters or {}
    for name, real in (
        ("id", [str(i) for i in [*OWN_JOBS.values(), FOREIGN_JOB]]),
        ("slug", [OWN_SLUG, FOREIGN_SLUG]),
    ):
        if name in path_parameters:
            return st.one_of(
                st.just(path_parameters),
                st.sampled_from(real).map(lambda v, name=name: {name: v}),
                url_hostile_text.map(lambda v, name=name: {name: v}),
                st.sampled_from(real).map(lambda v, name=name: {name: v}),
            ).map(lambda extra: {**path_parameters, **extra})
    return st.just(path_parameters or None)


@schema.hook
def flatmap_query(context, query):
    """Sometimes a query that finds something (output 0, a well-formed report), sometimes
    hostile names or values."""
    operation = context.operation
    path = operation.path if operation is not None else ""
    names = [p.name for p in operation.query] if operation is not None else []
    hostile = hostile_query(names or ["q"])
    if path.endswith("/content/"):
        choices = [{"index": 0}]
    elif path.endswith("/usage/"):
        choices = [{}, {"group_by": "model,day", "tz": "Europe/Paris"}, {"format": "csv"}]
        choices.append({"month": "2026-01", "group_by": "month"})
    else:
        return st.one_of(st.just(query), hostile)
    return st.one_of(st.just(query), st.sampled_from(choices), hostile)


@schema.hook
def flatmap_body(context, body):
    """Sometimes a valid request (a real model, our workspace, the rest dropped), sometimes
    one value anywhere in the body (or a key) made hostile."""
    if not isinstance(body, dict):
        return st.just(body)
    variants = [st.just(body)]
    if body:
        variants.append(with_hostile_value(body))
    if "model" in body:
        valid = st.fixed_dictionaries(
            {
                "model": st.sampled_from(MODELS),
                "prompt": st.text(min_size=1, max_size=50).filter(
                    lambda t: hygiene.text_problem(t) is None and t.strip()
                ),
            }
        ).map(lambda core: {**core, "workspace": OWN_SLUG} if "workspace" in body else core)
        variants += [valid, valid.flatmap(with_hostile_value)]
    return st.one_of(variants)


def _completed_at_simulator(workspace, public_id, prompt="A fox in snow"):
    job = job_create(workspace=workspace, data={"model": "google/veo-3.1", "prompt": prompt})
    job_submit(job_id=job.pk)
    for _ in range(100):
        job_poll_now(job_id=job.pk)
        job.refresh_from_db()
        if job.is_terminal:
            break
        time.sleep(0.03)
    assert job.status == JobStatus.COMPLETED, job.status
    VideoJob.objects.filter(pk=job.pk).update(public_id=public_id)
    return job


@pytest.fixture
def keep_test_connection():
    """The real WSGI handler closes "old" connections around each request, which would close
    the test's transaction on PostgreSQL; Django's test client disconnects them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_data(keep_test_connection, app_on_simulator, enqueued, enqueued_fetches, media_storage):
    """Workspace alpha (a viewer, a member, an admin; jobs in every state) and a foreign beta
    (its admin is the "outsider"); the headers of each role."""
    alpha, beta = make_workspace(OWN_SLUG), make_workspace(FOREIGN_SLUG)
    users = {
        "viewer": make_member(alpha, make_user("alpha-viewer"), Role.VIEWER),
        "member": make_member(alpha, make_user("alpha-member"), Role.MEMBER),
        "admin": make_member(alpha, make_user("alpha-admin"), Role.ADMIN),
        "outsider": make_member(beta, make_user("beta-admin"), Role.ADMIN),
    }
    make_job(alpha, public_id=OWN_JOBS["queued"])
    make_job(alpha, public_id=OWN_JOBS["failed"], status=JobStatus.FAILED, error="boom")
    pending = job_create(workspace=alpha, data={"model": "google/veo-3.1", "prompt": "slow"})
    job_submit(job_id=pending.pk)
    VideoJob.objects.filter(pk=pending.pk).update(public_id=OWN_JOBS["pending"])
    _completed_at_simulator(alpha, OWN_JOBS["completed"])
    stored = _completed_at_simulator(alpha, OWN_JOBS["stored"])
    output = VideoOutput(
        job=stored,
        index=0,
        status=OutputStatus.STORED,
        content_type="video/mp4",
        size_bytes=SAMPLE.stat().st_size,
    )
    output.file.save("output-0.mp4", ContentFile(SAMPLE.read_bytes()), save=False)
    output.save()
    make_job(beta, public_id=FOREIGN_JOB, status=JobStatus.COMPLETED, provider_job_id="x")
    for role, user in users.items():
        Token.objects.create(user=user, key=TOKENS[role])


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, api_data):
    """Every operation; each case as one of the four roles: drawn by ``flatmap_case``, or
    (for the cases of the examples and coverage phases, which no hook sees) taken from the
    case's content, so those are spread over the roles too; a fifth of them keep the
    credentials schemathesis made up (anonymous, or a bad token)."""
    ours = {f"Token {token}" for token in TOKENS.values()}
    if (case.headers or {}).get("Authorization") not in ours:
        content = repr((case.path_parameters, case.query, case.body)).encode("utf-8", "replace")
        role = [*ROLES, None][zlib.crc32(content) % (len(ROLES) + 1)]
        if role is not None:
            _with_headers(case, {"Authorization": f"Token {TOKENS[role]}"})
    case.call_and_validate(checks=CHECKS)


# --- the document itself ---------------------------------------------------------------------

EXPECTED_OPERATIONS = {
    ("get", "/videogen/api/jobs/"),
    ("post", "/videogen/api/jobs/"),
    ("post", "/videogen/api/jobs/estimate/"),
    ("get", "/videogen/api/jobs/{id}/"),
    ("post", "/videogen/api/jobs/{id}/refresh/"),
    ("post", "/videogen/api/jobs/{id}/cancel/"),
    ("get", "/videogen/api/jobs/{id}/content/"),
    ("get", "/videogen/api/models/"),
    ("get", "/videogen/api/workspaces/"),
    ("get", "/videogen/api/workspaces/{slug}/"),
    ("get", "/videogen/api/workspaces/{slug}/usage/"),
}


@pytest.fixture
def document(client):
    response = client.get("/videogen/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200  # anonymous: the schema is public
    return response.json()


def test_the_schema_is_valid_openapi_3(document):
    from drf_spectacular.validation import validate_schema

    validate_schema(document)
    assert document["openapi"].startswith("3.")


def test_the_schema_documents_exactly_the_api(document):
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert operations == EXPECTED_OPERATIONS


def test_the_schema_is_exact_where_it_matters(document):
    paths = document["paths"]
    create = paths["/videogen/api/jobs/"]["post"]["responses"]
    assert set(create) >= {"202", "400", "402", "413"} and "201" not in create
    assert create["202"]["headers"]["Location"]["required"] is True
    assert create["402"]["content"]["application/json"]["schema"]["$ref"].endswith("BudgetError")
    content = paths["/videogen/api/jobs/{id}/content/"]["get"]["responses"]
    assert content["200"]["content"] == {
        "video/mp4": {"schema": {"type": "string", "format": "binary"}}
    }
    assert {"404", "409", "502"} <= set(content)
    usage = paths["/videogen/api/workspaces/{slug}/usage/"]["get"]
    assert set(usage["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {p["name"] for p in usage["parameters"]} >= {"group_by", "start", "end", "month", "tz"}
    listing = paths["/videogen/api/jobs/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert names >= {"status", "model", "workspace", "created_after", "created_before"}
    assert names >= {"search", "ordering", "cursor", "page_size"}
    ordering = next(p for p in listing["parameters"] if p["name"] == "ordering")
    assert set(ordering["schema"]["enum"]) == {
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
    }
    for path, item in paths.items():
        for method, operation in item.items():
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)


def test_the_schema_is_also_yaml(client):
    response = client.get("/videogen/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"openapi: 3." in response.content


def test_the_docs_page_needs_no_internet(client):
    from django.contrib.staticfiles import finders

    response = client.get("/videogen/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "/videogen/api/schema/" in page
    assert "cdn." not in page and "unpkg" not in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
