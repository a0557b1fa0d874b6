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

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.schema_fuzz import authorize, install_hooks, seed_api_data

SCHEMA_PATH = "/videogen/api/schema/?format=json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())
install_hooks(schema)


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
    seed_api_data()


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, api_data):
    """Every operation; each case as one of the four roles (see ``schema_fuzz``)."""
    authorize(case)
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


def test_the_request_body_documents_the_request_schema(document):
    from videogen.models import AspectRatio, FrameType
    from videogen.services.jobs import request as schema

    components = document["components"]["schemas"]
    body = components["GenerationRequest"]
    assert list(body["properties"]) == list(schema.REQUEST_FIELDS)
    assert body["required"] == ["model"]
    duration, limits = body["properties"]["duration"], schema.FIELDS_BY_NAME["duration"]
    assert (duration["minimum"], duration["maximum"]) == (limits.min_value, limits.max_value)
    assert body["properties"]["prompt"]["maxLength"] == schema.MAX_PROMPT_CHARS
    assert body["properties"]["frame_images"]["maxItems"] == schema.MAX_FRAME_IMAGES
    assert body["properties"]["input_references"]["maxItems"] == schema.MAX_INPUT_REFERENCES
    assert body["properties"]["size"]["pattern"] == f"^{schema.SIZE_PATTERN}$"
    assert components["AspectRatioEnum"]["enum"] == AspectRatio.values
    assert components["FrameTypeEnum"]["enum"] == FrameType.values
    create = components["JobCreateRequest"]
    assert set(create["properties"]) == {*schema.REQUEST_FIELDS, "workspace"}
