"""The API's endpoints: behaviour, status codes and bodies (roles and isolation have their
own files)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api.conftest import API, PROVIDER, client_for
from tests.factories import make_job, make_member, make_user
from videogen.models import (
    EventSource,
    JobEvent,
    JobStatus,
    OutputStatus,
    Role,
    UsageEntry,
    VideoJob,
    VideoOutput,
)
from videogen.services.jobs import request as validation

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"


def body(**extra):
    return {"workspace": "studio-a", "model": VEO, "prompt": "A fox in snow", **extra}


# --- list: filters, search, ordering, pagination ---------------------------------------------


def ids(response):
    return [item["id"] for item in response.json()["results"]]


def test_list_is_newest_first_and_paginated_by_cursor(team):
    for n in range(7):
        make_job(team.a, prompt=f"extra {n}")
    client = team.client("viewer")
    seen, url = [], f"{API}/jobs/?page_size=4"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += ids(response)
        url = response.json()["next"]
    expected = [
        str(j.public_id) for j in VideoJob.objects.filter(workspace=team.a).order_by("-created_at")
    ]
    assert seen == expected and len(seen) == 10


def test_list_filters(team):
    client = team.client("member")
    make_job(team.a, model="openai/sora-2", prompt="a sora job")

    def listed(query):
        response = client.get(f"{API}/jobs/?{query}")
        assert response.status_code == 200, response.json()
        return {item["prompt"] for item in response.json()["results"]}

    assert listed("status=queued&status=pending") == {
        "queued job of studio-a",
        "pending job of studio-a",
        "a sora job",
    }
    assert listed("model=openai/sora-2") == {"a sora job"}
    assert listed("workspace=studio-a") == listed("")
    assert listed("workspace=studio-b") == set()  # a foreign slug filters to nothing
    assert listed("search=COMPLETED") == {"completed job of studio-a"}
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert listed(f"created_before={future}&created_after=2000-01-01T00:00:00Z") == listed("")
    assert listed(f"created_after={future}") == set()


def test_list_ordering_is_limited_to_safe_fields(team):
    client = team.client("viewer")
    oldest_first = ids(client.get(f"{API}/jobs/?ordering=created_at"))
    newest_first = ids(client.get(f"{API}/jobs/"))
    assert oldest_first == list(reversed(newest_first))
    assert ids(client.get(f"{API}/jobs/?ordering=")) == newest_first  # empty: the default
    # Unknown or unsafe fields are refused, naming the ones allowed.
    for unsafe in ("workspace__name", "cost", "created_at,cost", "-id"):
        response = client.get(f"{API}/jobs/?ordering={unsafe}")
        assert response.status_code == 400, unsafe
        error = response.json()["errors"]["ordering"][0]
        assert error["code"] == "invalid_choice"
        assert "created_at, -created_at, updated_at, -updated_at" in error["message"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("status=nope", 400, "invalid"),
        ("created_after=yesterday", 400, "invalid"),
        ("cursor=garbage", 404, "not_found"),
        # A well-formed cursor whose position is not a timestamp never reaches SQL.
        ("cursor=cD1ub3QtYS1kYXRl", 404, "not_found"),
    ],
)
def test_list_bad_parameters(team, query, status, code):
    response = team.client("viewer").get(f"{API}/jobs/?{query}")
    assert response.status_code == status
    assert response.json()["code"] == code


def test_page_size_is_capped(team):
    for n in range(120):
        make_job(team.a, prompt=f"bulk {n}")
    response = team.client("viewer").get(f"{API}/jobs/?page_size=1000")
    assert len(response.json()["results"]) == 100


def _bulk_jobs(workspace, count):
    users = [make_member(workspace, make_user(), Role.MEMBER) for _ in range(3)]
    for n in range(count):
        job = make_job(
            workspace,
            created_by=users[n % 3],
            status=JobStatus.COMPLETED if n % 2 else JobStatus.PENDING,
            unsigned_urls=["https://cdn.test/a.mp4", "https://cdn.test/b.mp4"] if n % 2 else [],
            provider_job_id=f"bulk-{n}",
        )
        if n % 2:
            VideoOutput.objects.create(
                job=job, index=0, status=OutputStatus.STORED, size_bytes=10, file="x.mp4"
            )


def test_list_costs_the_same_queries_whatever_the_page_size(team):
    _bulk_jobs(team.a, 60)
    client = client_for(team.member, token=False)
    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{API}/jobs/?page_size={size}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts[size] = len(queries)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 3  # the page (with workspace, creator, role) and its stored outputs


LIST_QUERIES = [
    "",
    "page_size=100",
    "status=completed",
    "status=queued&status=pending",
    "model=google/veo-3.1",
    "workspace=studio-a",
    "created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z",
    "search=job",
    "ordering=created_at",
    "ordering=-created_at",
    "ordering=updated_at",
    "ordering=-updated_at",
    "ordering=-updated_at&status=completed&workspace=studio-a",
]


@pytest.mark.parametrize("query", LIST_QUERIES)
def test_list_is_three_queries_and_no_count(team, query, django_assert_max_num_queries):
    """Token, the caller's workspaces, the page (its jobs' workspace, creator, cost and
    stored outputs included): three queries for any filter or ordering, on the first page
    and on the next, never a COUNT or a DISTINCT."""
    _bulk_jobs(team.a, 30)
    make_member(team.b, team.member, Role.VIEWER)  # two workspaces: an IN list, roles by row
    client = client_for(team.member)  # token authentication, as an API client is
    url = f"{API}/jobs/?page_size=5&{query}"
    client.get(url)  # once first: a connection's one-time checks (SQLite's JSON support)
    for _page in range(2):
        with django_assert_max_num_queries(3) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.json()
        # No COUNT, and no DISTINCT (which makes PostgreSQL sort every matching job).
        assert not any(
            word in q["sql"].upper()
            for q in queries.captured_queries
            for word in ("COUNT(", "DISTINCT")
        )
        url = response.json()["next"]
        if url is None:
            break


def test_list_pages_through_every_job_of_every_workspace_in_each_ordering(team):
    """The next links keep their place across ties (jobs sharing a timestamp) and across
    workspaces, in every ordering offered. (Going back through ties, DRF's cursor skips
    rows: its documented "paging artifact"; not asserted here.)"""
    make_member(team.b, team.member, Role.VIEWER)
    same_instant = timezone.now() - timedelta(days=1)
    for n in range(9):
        job = make_job(team.a if n % 2 else team.b, prompt=f"tie {n}")
        VideoJob.objects.filter(pk=job.pk).update(created_at=same_instant, updated_at=same_instant)
    client = team.client("member")
    everything = VideoJob.objects.filter(workspace__in=[team.a, team.b])
    for ordering in ("-created_at", "created_at", "-updated_at", "updated_at"):
        seen, url = [], f"{API}/jobs/?page_size=2&ordering={ordering}"
        while url:
            response = client.get(url)
            assert response.status_code == 200
            seen += ids(response)
            url = response.json()["next"]
        sign = "-" if ordering.startswith("-") else ""
        expected = [str(j.public_id) for j in everything.order_by(ordering, f"{sign}id")]
        assert seen == expected, ordering


def test_list_shows_each_workspaces_jobs_with_the_callers_role_there(team):
    make_member(team.b, team.member, Role.VIEWER)
    client = team.client("member")
    listed = {
        item["prompt"]: item["workspace"] for item in client.get(f"{API}/jobs/").json()["results"]
    }
    assert listed["queued job of studio-b"] == "studio-b"
    assert listed["queued job of studio-a"] == "studio-a"
    # The role is per workspace: a member of a, a viewer of b.
    a_job, b_job = team.jobs["pending"], team.foreign["pending"]
    assert client.post(f"{API}/jobs/{a_job.public_id}/cancel/").status_code != 403
    assert client.post(f"{API}/jobs/{b_job.public_id}/cancel/").status_code == 403


def test_job_representation(team):
    job = team.jobs["completed"]
    VideoOutput.objects.create(
        job=job,
        index=0,
        status=OutputStatus.STORED,
        size_bytes=123,
        content_type="video/mp4",
        sha256="ab" * 32,
        file="o.mp4",
    )
    data = team.client("viewer").get(f"{API}/jobs/{job.public_id}/").json()
    assert data["id"] == str(job.public_id)
    assert data["url"].endswith(f"/videogen/api/jobs/{job.public_id}/")
    assert data["workspace"] == "studio-a"
    assert data["aspect_ratio"] is None and data["callback_url"] is None  # "" shown as null
    assert data["outputs"] == [
        {
            "index": 0,
            "url": f"http://testserver{API}/jobs/{job.public_id}/content/?index=0",
            "stored": True,
            "size_bytes": 123,
            "content_type": "video/mp4",
            "sha256": "ab" * 32,
        }
    ]
    assert "provider_response" not in data and "lease_token" not in data


# --- create ----------------------------------------------------------------------------------


def test_create_answers_202_with_location_and_queues_the_job(
    team, catalog, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = team.client("member").post(
            f"{API}/jobs/", body(duration=4, resolution="720p"), format="json"
        )
    assert response.status_code == 202, response.json()
    data = response.json()
    assert response["Location"] == data["url"]
    job = VideoJob.objects.get(public_id=data["id"])
    assert (job.status, job.workspace, job.created_by) == ("queued", team.a, team.member)
    assert (job.duration, job.resolution) == (4, "720p")
    assert data["status"] == "queued" and data["created_by"] == "member"
    assert data["estimated_cost"] == "1.60000000"
    assert enqueued == [job.pk]
    assert JobEvent.objects.get(job=job).source == EventSource.API


def test_create_validation_errors_keep_the_service_codes(team, catalog, enqueued):
    response = team.client("member").post(
        f"{API}/jobs/", body(duration=7, aspect_ratio="5:4", colour="red"), format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert response.json()["code"] == "invalid"
    assert errors["duration"][0]["code"] == "unsupported_by_model"
    assert errors["aspect_ratio"][0]["code"] == "invalid_choice"
    assert errors["colour"][0]["code"] == "unknown_field"
    assert VideoJob.objects.count() == 6 and enqueued == []


def test_create_needs_a_workspace_and_reports_everything_at_once(team, catalog, enqueued):
    response = team.client("member").post(
        f"{API}/jobs/", {"model": "nope", "prompt": "x"}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["workspace"][0]["code"] == "required"
    assert errors["model"][0]["code"] == "unknown_model"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("[1, 2]", "invalid_type"),
        ('"text"', "invalid_type"),
    ],
)
def test_create_needs_a_json_object(team, raw, code):
    response = team.client("member").post(f"{API}/jobs/", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["non_field_errors"][0]["code"] == code


def test_malformed_json_is_a_400(team):
    response = team.client("member").post(
        f"{API}/jobs/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": response.json()["detail"],
        "code": "parse_error",
        "errors": {},
    }


def test_nul_characters_are_refused_before_the_database(team, catalog, enqueued):
    response = team.client("member").post(f"{API}/jobs/", body(prompt="a\x00b"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["prompt"][0]["code"] == "null_characters"
    response = team.client("member").get(f"{API}/jobs/?search=a%00b")
    assert response.status_code == 400


def test_a_form_body_is_not_accepted(team):
    response = team.client("member").post(f"{API}/jobs/", {"workspace": "studio-a"})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_budget_refusal_is_402_with_the_numbers(team, catalog, enqueued):
    team.a.monthly_budget = Decimal("1.00")
    team.a.save()
    response = team.client("member").post(
        f"{API}/jobs/", body(duration=8, generate_audio=False), format="json"
    )
    assert response.status_code == 402
    data = response.json()
    assert data["code"] == "budget_exceeded"
    assert data["currency"] == "USD"
    assert Decimal(data["budget"]) == Decimal("1.00")
    assert Decimal(data["estimate"]) == Decimal("1.60")
    assert Decimal(data["projected"]) == Decimal(data["spent"]) + Decimal(
        data["in_flight"]
    ) + Decimal(data["estimate"])
    assert VideoJob.objects.count() == 6 and enqueued == []


def test_a_body_over_the_cap_is_413_without_reading_it(team):
    size = validation.MAX_REQUEST_BYTES + 1
    payload = b'{"prompt": "' + b"x" * (size - 14) + b'"}'
    response = team.client("member").post(f"{API}/jobs/", payload, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert "MiB" in response.json()["detail"]


def test_the_cap_holds_on_bytes_read_too(team, monkeypatch):
    monkeypatch.setattr(validation, "MAX_REQUEST_BYTES", 100)
    response = team.client("member").post(
        f"{API}/jobs/estimate/", json.dumps({"prompt": "y" * 200}), content_type="application/json"
    )
    assert response.status_code == 413


def test_django_request_data_too_big_becomes_a_413_json(team, settings):
    # Something read request.body first (a middleware, the browsable API): Django's own cap.
    from django.core.exceptions import RequestDataTooBig

    from videogen.api.exceptions import videogen_exception_handler

    response = videogen_exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413
    assert response.data["code"] == "request_too_large"


# --- estimate --------------------------------------------------------------------------------


def test_estimate(team, catalog):
    client = team.client("viewer")
    response = client.post(
        f"{API}/jobs/estimate/",
        {"model": VEO, "prompt": "x", "duration": 4, "generate_audio": False},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "model": VEO,
        "estimated_cost": "0.80000000",
        "currency": "USD",
        "reason": "4s × per_second 0.20",
    }
    assert VideoJob.objects.count() == 6  # nothing stored


def test_estimate_without_a_price(team, catalog):
    response = team.client("viewer").post(
        f"{API}/jobs/estimate/", {"model": VEO, "prompt": "x"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["estimated_cost"] is None
    assert "duration" in response.json()["reason"]


def test_estimate_validates_like_submission(team, catalog):
    response = team.client("viewer").post(
        f"{API}/jobs/estimate/", {"model": VEO, "duration": 0}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["duration"][0]["code"] == "min_value"


# --- refresh and cancel ----------------------------------------------------------------------


def test_refresh_polls_a_job_at_the_provider(team, provider):
    job = team.jobs["pending"]
    with responses.RequestsMock() as mock:
        mock.get(
            f"{PROVIDER}/videos/{job.provider_job_id}",
            json={
                "id": job.provider_job_id,
                "polling_url": "x",
                "status": "completed",
                "unsigned_urls": ["https://cdn.test/v.mp4"],
                "usage": {"cost": 0.5, "is_byok": False},
            },
        )
        response = team.client("member").post(f"{API}/jobs/{job.public_id}/refresh/")
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert response.json()["cost"] == "0.50000000"
    assert UsageEntry.objects.get(job=job).cost == Decimal("0.5")


def test_refresh_records_a_provider_failure_on_the_job(team, provider):
    job = team.jobs["pending"]
    with responses.RequestsMock() as mock:
        mock.get(f"{PROVIDER}/videos/{job.provider_job_id}", status=503)
        response = team.client("member").post(f"{API}/jobs/{job.public_id}/refresh/")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    job.refresh_from_db()
    assert "503" in job.last_error


@pytest.mark.parametrize("state", ["queued", "completed"])
def test_refresh_of_a_job_not_at_the_provider_asks_nothing(team, provider, state):
    job = team.jobs[state]
    with responses.RequestsMock():  # any request would fail the test
        response = team.client("member").post(f"{API}/jobs/{job.public_id}/refresh/")
    assert response.status_code == 200
    assert response.json()["status"] == state


def test_cancel_a_queued_job(team):
    job = team.jobs["queued"]
    response = team.client("member").post(f"{API}/jobs/{job.public_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    event = JobEvent.objects.get(job=job, to_status="cancelled")
    assert event.source == EventSource.API


@pytest.mark.parametrize("state", ["pending", "completed"])
def test_cancel_a_job_already_sent_is_409(team, state):
    job = team.jobs[state]
    response = team.client("member").post(f"{API}/jobs/{job.public_id}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "not_cancellable"
    assert state in response.json()["detail"]
    job.refresh_from_db()
    assert job.status == state


# --- content ---------------------------------------------------------------------------------


class FakeUpstream:
    """Stands in for the provider's stream, recording whether it was closed."""

    def __init__(self, chunks, content_type="video/mp4", length=None, fail_after=None):
        self.chunks = chunks
        self.content_type = content_type
        self.content_length = length
        self.fail_after = fail_after
        self.closed = False
        self.served = 0

    def iter_chunks(self):
        from videogen.provider.errors import ProviderConnectionError

        for n, chunk in enumerate(self.chunks):
            if self.fail_after is not None and n >= self.fail_after:
                raise ProviderConnectionError("cut off")
            self.served += 1
            yield chunk

    def close(self):
        self.closed = True


def test_content_from_storage(team, media_storage):
    job = team.jobs["completed"]
    output = VideoOutput(job=job, index=0, status=OutputStatus.STORED, content_type="video/mp4")
    output.file.save("output-0.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42 stored"), save=False)
    output.save()
    with responses.RequestsMock():  # the provider is not asked
        response = team.client("viewer").get(f"{API}/jobs/{job.public_id}/content/")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content).endswith(b"stored")
    response.close()


def test_content_streams_from_the_provider_when_not_stored(team, monkeypatch):
    upstream = FakeUpstream([b"ab", b"cd", b"ef"], length=6)
    monkeypatch.setattr("videogen.api.views.job_content_open", lambda **kw: upstream)
    job = team.jobs["completed"]
    response = team.client("viewer").get(
        f"{API}/jobs/{job.public_id}/content/?index=0", HTTP_ACCEPT="video/mp4"
    )
    assert response.status_code == 200
    assert response.streaming  # never buffered whole
    assert (response["Content-Type"], response["Content-Length"]) == ("video/mp4", "6")
    assert upstream.served == 0  # nothing read before the client reads
    assert b"".join(response.streaming_content) == b"abcdef"
    assert upstream.closed


def test_the_upstream_is_closed_when_the_client_goes_away(team, monkeypatch):
    upstream = FakeUpstream([b"ab", b"cd", b"ef"])
    monkeypatch.setattr("videogen.api.views.job_content_open", lambda **kw: upstream)
    response = team.client("viewer").get(f"{API}/jobs/{team.jobs['completed'].public_id}/content/")
    next(iter(response.streaming_content))
    response.close()  # what the WSGI server does when the client disconnects
    assert upstream.closed and upstream.served == 1


def test_a_stream_cut_off_upstream_ends_the_body_and_closes(team, monkeypatch):
    upstream = FakeUpstream([b"ab", b"cd"], fail_after=1)
    monkeypatch.setattr("videogen.api.views.job_content_open", lambda **kw: upstream)
    response = team.client("viewer").get(f"{API}/jobs/{team.jobs['completed'].public_id}/content/")
    assert b"".join(response.streaming_content) == b"ab"
    assert upstream.closed


def test_content_through_the_real_client(team, provider):
    job = team.jobs["completed"]
    url = f"{PROVIDER}/videos/{job.provider_job_id}/content"
    with responses.RequestsMock() as mock:
        mock.get(url, body=b"\x00\x00\x00\x18ftypmp42" + b"v" * 1000, content_type="video/mp4")
        response = team.client("viewer").get(f"{API}/jobs/{job.public_id}/content/?index=0")
        data = b"".join(response.streaming_content)
        assert mock.calls[0].request.params == {"index": "0"}
    assert response.status_code == 200 and len(data) == 1012


@pytest.mark.parametrize(
    ("provider_status", "status", "code"),
    [(404, 404, "content_not_found"), (502, 502, "provider_error"), (500, 502, "provider_error")],
)
def test_content_provider_errors(team, provider, provider_status, status, code):
    job = team.jobs["completed"]
    with responses.RequestsMock() as mock:
        mock.get(f"{PROVIDER}/videos/{job.provider_job_id}/content", status=provider_status)
        response = team.client("viewer").get(
            f"{API}/jobs/{job.public_id}/content/", HTTP_ACCEPT="video/mp4"
        )
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"  # errors are JSON whatever Accept says
    assert response.json()["code"] == code


@pytest.mark.parametrize("state", ["queued", "pending"])
def test_content_of_a_job_not_completed_is_409(team, state):
    response = team.client("viewer").get(f"{API}/jobs/{team.jobs[state].public_id}/content/")
    assert response.status_code == 409
    assert response.json()["code"] == "job_not_completed"


@pytest.mark.parametrize(
    ("index", "code"), [("-1", "min_value"), ("x", "invalid"), ("1", "out_of_range")]
)
def test_content_bad_index_is_400(team, index, code):
    job = team.jobs["completed"]  # one output
    response = team.client("viewer").get(f"{API}/jobs/{job.public_id}/content/?index={index}")
    assert response.status_code == 400
    assert response.json()["errors"]["index"][0]["code"] == code


# --- catalog and workspaces ------------------------------------------------------------------


def test_models_lists_the_active_catalog(team, catalog):
    from videogen.models import VideoModel

    VideoModel.objects.filter(model_id="openai/sora-2").update(is_active=False)
    data = team.client("viewer").get(f"{API}/models/").json()
    by_id = {m["id"]: m for m in data}
    assert "openai/sora-2" not in by_id and VEO in by_id
    assert by_id[VEO]["supported_durations"] == [4, 6, 8]
    assert by_id[VEO]["pricing_skus"] == {"per_second": "0.20", "per_second_audio": "0.40"}


def test_workspaces_list_shows_the_role_and_budget_for_admins(team):
    make_member(team.b, team.member, Role.VIEWER)
    team.a.monthly_budget = Decimal("50")
    team.a.save()
    make_job(team.a, estimated_cost=Decimal("2.5"))  # queued: in flight for the budget
    member_view = {w["slug"]: w for w in team.client("member").get(f"{API}/workspaces/").json()}
    assert member_view["studio-a"]["role"] == "member"
    assert member_view["studio-a"]["budget"] is None
    assert member_view["studio-b"]["role"] == "viewer"
    admin_view = team.client("admin").get(f"{API}/workspaces/studio-a/").json()
    assert admin_view["budget"] == {
        "monthly_budget": "50.00000000",
        "policy": "block",
        "spent_this_month": "0.00000000",
        "in_flight": "2.50000000",
    }


# --- usage report ----------------------------------------------------------------------------


@pytest.fixture
def ledger(team):
    now = timezone.now()
    for n, (model, cost) in enumerate([(VEO, "0.80"), (VEO, "1.20"), ("openai/sora-2", "0.40")]):
        job = make_job(team.a, model=model, status="completed", provider_job_id=f"l{n}")
        UsageEntry.objects.create(
            job=job, workspace=team.a, model=model, cost=Decimal(cost), duration=4, completed_at=now
        )
    foreign = make_job(team.b, status="completed", provider_job_id="lf")
    UsageEntry.objects.create(
        job=foreign, workspace=team.b, model=VEO, cost=Decimal("9"), duration=4, completed_at=now
    )
    return now


def test_usage_report_json(team, ledger):
    response = team.client("admin").get(f"{API}/workspaces/studio-a/usage/?group_by=model")
    assert response.status_code == 200
    data = response.json()
    month = timezone.localdate(ledger)
    assert data["start"] == month.replace(day=1).isoformat()
    assert data["group_by"] == ["model"]
    assert [(r["model"], r["jobs"], r["cost"]) for r in data["rows"]] == [
        (VEO, 2, "2.00000000"),
        ("openai/sora-2", 1, "0.40000000"),
    ]
    assert data["total"]["cost"] == "2.40000000"  # the foreign workspace's 9 USD is not in it


def test_usage_report_by_day_in_a_time_zone(team, ledger):
    day = ledger.date().isoformat()
    response = team.client("admin").get(
        f"{API}/workspaces/studio-a/usage/?group_by=day&start={day}&end={day}&tz=UTC"
    )
    assert response.status_code == 200
    assert response.json()["rows"] == [
        {
            "day": day,
            "jobs": 3,
            "priced_jobs": 3,
            "cost": "2.40000000",
            "seconds": 12,
            "average_cost": "0.80000000",
            "cost_per_second": "0.20000000",
        }
    ]


@pytest.mark.parametrize(
    "how", [{"query": "&format=csv"}, {"headers": {"HTTP_ACCEPT": "text/csv"}}]
)
def test_usage_report_csv(team, ledger, how):
    response = team.client("admin").get(
        f"{API}/workspaces/studio-a/usage/?group_by=model{how.get('query', '')}",
        **how.get("headers", {}),
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="usage-studio-a-')
    lines = response.content.decode().splitlines()
    assert lines[0] == "model,jobs,priced_jobs,cost,seconds,average_cost,cost_per_second"
    assert lines[1].startswith(f"{VEO},2,2,2.00000000,8,")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=day,month", "group_by"),
        ("group_by=colour", "group_by"),
        ("month=2026-01&start=2026-01-01", "month"),
        ("month=2026-13", "month"),
        ("end=2026-01-01", "start"),
        ("start=2026-02-01&end=2026-01-01", "end"),
        ("start=0001-01-01&end=2026-01-01", "start"),
        ("tz=Mars/Olympus", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("format=xml", "format"),
    ],
)
def test_usage_report_bad_parameters_are_400(team, query, field):
    response = team.client("admin").get(f"{API}/workspaces/studio-a/usage/?{query}")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["errors"]


def test_csv_errors_are_json(team):
    response = team.client("member").get(f"{API}/workspaces/studio-a/usage/?format=csv")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"


# --- throttling, unknown paths ---------------------------------------------------------------


def test_requests_are_throttled_per_user(team, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"videogen": "2/minute"},
    }
    client = team.client("viewer")
    assert [client.get(f"{API}/models/").status_code for _ in range(3)] == [200, 200, 429]
    throttled = client.get(f"{API}/models/")
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert team.client("member").get(f"{API}/models/").status_code == 200  # per user


def test_unknown_api_paths_answer_json_404(team):
    response = team.client("viewer").get(f"{API}/nothing/here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert team.client("viewer").get(f"{API}/jobs/not-a-uuid/").json()["code"] == "not_found"
    # The catch-all leaves APPEND_SLASH alone: "jobs" still redirects to "jobs/".
    redirect = team.client("viewer").get(f"{API}/jobs")
    assert redirect.status_code == 301 and redirect["Location"] == f"{API}/jobs/"


def test_an_unknown_api_path_is_the_apis_json_404_for_any_method_and_caller(settings):
    from django.test import Client

    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    client = Client(enforce_csrf_checks=True)
    for method in ("get", "post", "delete"):
        response = getattr(client, method)("/videogen/api/no-such-thing/")
        assert response.status_code == 404, method
        assert response.json()["code"] == "not_found"
