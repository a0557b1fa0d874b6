"""The API against its own OpenAPI schema, with schemathesis (property-based).

The schema is fetched from the live ``schema/`` endpoint through the WSGI app; every operation
then gets generated requests (bounded examples), authenticated as the admin of a workspace
that holds jobs in every state. Path parameters are drawn from those real objects (and from
another workspace's, which must answer 404) as often as from random values, and job bodies
are sometimes made valid, so success answers are exercised too. The provider is the
in-process simulator. Checks: no 5xx, and every status, content type, header and body as
documented.
"""

from __future__ import annotations

import time
import uuid
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


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, a real job id or workspace slug (ours, or a foreign one)."""
    path_parameters = path_parameters or {}
    if "id" in path_parameters:
        ids = [str(i) for i in [*OWN_JOBS.values(), FOREIGN_JOB]]
        return st.one_of(
            st.just(path_parameters), st.sampled_from(ids).map(lambda v: {"id": v})
        ).map(lambda extra: {**path_parameters, **extra})
    if "slug" in path_parameters:
        return st.one_of(
            st.just(path_parameters),
            st.sampled_from([OWN_SLUG, FOREIGN_SLUG]).map(lambda v: {"slug": v}),
        ).map(lambda extra: {**path_parameters, **extra})
    return st.just(path_parameters or None)


@schema.hook
def flatmap_query(context, query):
    """Sometimes a query that finds something: output 0, a well-formed report."""
    path = context.operation.path if context.operation is not None else ""
    if path.endswith("/content/"):
        choices = [{"index": 0}]
    elif path.endswith("/usage/"):
        choices = [{}, {"group_by": "model,day", "tz": "Europe/Paris"}, {"format": "csv"}]
        choices.append({"month": "2026-01", "group_by": "month"})
    else:
        return st.just(query)
    return st.one_of(st.just(query), st.sampled_from(choices))


@schema.hook
def flatmap_body(context, body):
    """Sometimes a valid request: a real model, our workspace, the rest left as generated
    or dropped."""
    if not isinstance(body, dict) or "model" not in body:
        return st.just(body)
    valid = st.fixed_dictionaries(
        {
            "model": st.sampled_from(MODELS),
            "prompt": st.text(min_size=1, max_size=50).filter(lambda t: "\x00" not in t),
        }
    ).map(lambda core: {**core, "workspace": OWN_SLUG} if "workspace" in body else core)
    return st.one_of(st.just(body), valid)


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
    """Workspace alpha (admin with a token; jobs in every state) and a foreign beta."""
    alpha, beta = make_workspace(OWN_SLUG), make_workspace(FOREIGN_SLUG)
    admin = make_member(alpha, make_user("alpha-admin"), Role.ADMIN)
    make_member(beta, make_user("beta-admin"), Role.ADMIN)
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
    return {"Authorization": f"Token {Token.objects.create(user=admin).key}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, api_data):
    case.call_and_validate(headers=api_data, checks=CHECKS)


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
