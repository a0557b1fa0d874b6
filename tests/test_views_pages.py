"""The workspace web pages: who sees what, the "New video" form, refresh and output streaming."""

from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_job, make_member, make_workspace
from tests.services.jobs.test_outputs import SAMPLE, completed_job
from tests.strategies import anything_text, hostile_text
from videogen import hygiene, views
from videogen.forms import JobRequestForm
from videogen.models import JobEvent, Role, VideoJob
from videogen.services.jobs.outputs import outputs_fetch

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"


@pytest.fixture
def ws():
    return make_workspace("studio")


@pytest.fixture
def member(ws):
    return make_member(ws, role=Role.MEMBER)


@pytest.fixture
def viewer(ws):
    return make_member(ws, role=Role.VIEWER)


@pytest.fixture
def outsider():
    return make_member(make_workspace("elsewhere"), role=Role.ADMIN)


@pytest.fixture
def job(ws):
    return make_job(ws, status="pending", provider_job_id="job-1", prompt="A heron at dawn")


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_urls(job) -> dict[str, str]:
    slug, public_id = job.workspace.slug, job.public_id
    return {
        "workspace": reverse("videogen:workspace", args=[slug]),
        "job": reverse("videogen:job", args=[slug, public_id]),
        "job-refresh": reverse("videogen:job-refresh", args=[slug, public_id]),
        "job-output": reverse("videogen:job-output", args=[slug, public_id, 0]),
    }


def test_urls():
    public_id = uuid.uuid4()
    assert reverse("videogen:workspaces") == "/videogen/"
    assert reverse("videogen:workspace", args=["s"]) == "/videogen/w/s/"
    assert reverse("videogen:job", args=["s", public_id]) == f"/videogen/w/s/jobs/{public_id}/"
    assert (
        reverse("videogen:job-output", args=["s", public_id, 0])
        == f"/videogen/w/s/jobs/{public_id}/outputs/0/"
    )


# --- access -------------------------------------------------------------------------------


def test_member_sees_every_page(ws, member, job):
    client = as_user(member)
    listing = client.get(reverse("videogen:workspaces"))
    assert listing.status_code == 200
    assert b"Studio" in listing.content and b"member" in listing.content
    urls = page_urls(job)
    workspace_page = client.get(urls["workspace"])
    assert workspace_page.status_code == 200
    assert b"A heron at dawn" in workspace_page.content and b"New video" in workspace_page.content
    job_page = client.get(urls["job"])
    assert job_page.status_code == 200
    assert b"Pending" in job_page.content or b"pending" in job_page.content
    assert b"Refresh" in job_page.content


@pytest.mark.parametrize("name", ["workspaces", "workspace", "job", "job-refresh", "job-output"])
def test_anonymous_is_sent_to_login(job, name):
    url = reverse("videogen:workspaces") if name == "workspaces" else page_urls(job)[name]
    for method in ("get", "post"):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("name", ["workspace", "job", "job-refresh", "job-output"])
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head"])
def test_another_workspace_is_404_for_every_method(job, outsider, name, method):
    response = getattr(as_user(outsider), method)(page_urls(job)[name])
    assert response.status_code == 404
    assert VideoJob.objects.count() == 1


def test_another_workspace_is_not_listed(ws, outsider):
    response = as_user(outsider).get(reverse("videogen:workspaces"))
    assert b"Elsewhere" in response.content and b"Studio" not in response.content


def test_an_unknown_job_is_404(ws, member):
    url = reverse("videogen:job", args=[ws.slug, uuid.uuid4()])
    assert as_user(member).get(url).status_code == 404


def test_a_job_under_the_wrong_workspace_slug_is_404(ws, member, job):
    other = make_workspace("second")
    make_member(other, member, role=Role.MEMBER)
    url = reverse("videogen:job", args=[other.slug, job.public_id])
    assert as_user(member).get(url).status_code == 404


def test_viewer_sees_no_form_and_cannot_post(ws, viewer, job, monkeypatch):
    polled = []
    monkeypatch.setattr(views, "job_poll_now", lambda *, job_id: polled.append(job_id))
    client = as_user(viewer)
    urls = page_urls(job)
    page = client.get(urls["workspace"])
    assert page.status_code == 200 and page.context["form"] is None
    assert b"New video" not in page.content
    assert b"Refresh" not in client.get(urls["job"]).content
    response = client.post(urls["workspace"], {"model": VEO, "prompt": "A fox"})
    assert response.status_code == 403
    assert client.post(urls["job-refresh"]).status_code == 403
    assert VideoJob.objects.count() == 1 and polled == []


def test_methods_not_offered_are_405_for_members(ws, member, job):
    client = as_user(member)
    urls = page_urls(job)
    assert client.delete(urls["workspace"]).status_code == 405
    assert client.post(urls["job"]).status_code == 405
    assert client.get(urls["job-refresh"]).status_code == 405
    assert client.post(reverse("videogen:workspaces")).status_code == 405


def test_posts_need_the_csrf_token(ws, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("videogen:workspace", args=[ws.slug]), {"model": VEO})
    assert response.status_code == 403


# --- the "New video" form -----------------------------------------------------------------


def test_creating_a_job_stores_it_and_redirects(
    app_on_simulator, enqueued, ws, member, django_capture_on_commit_callbacks
):
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    form = client.get(url).context["form"]
    assert VEO in dict(form.fields["model"].choices)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {"model": VEO, "prompt": "A fox in snow", "duration": "8", "resolution": "720p"},
        )
    job = VideoJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("videogen:job", args=[ws.slug, job.public_id])
    assert (job.workspace, job.created_by, job.status) == (ws, member, "queued")
    assert (job.model, job.prompt, job.duration, job.resolution, job.aspect_ratio) == (
        VEO,
        "A fox in snow",
        8,
        "720p",
        "",
    )
    assert enqueued == [job.pk]
    page = client.get(response["Location"])
    assert b"Video job created." in page.content and b"A fox in snow" in page.content


def test_an_invalid_request_shows_the_field_error_and_stores_nothing(
    app_on_simulator, enqueued, ws, member
):
    response = as_user(member).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": VEO, "prompt": "A fox", "duration": "999"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["duration"]
    assert form.has_error("duration")
    assert "does not support duration 999" in form.errors["duration"][0]
    assert b"does not support duration 999" in response.content
    assert VideoJob.objects.count() == 0 and enqueued == []


def test_a_missing_prompt_is_the_services_error(app_on_simulator, enqueued, ws, member):
    response = as_user(member).post(reverse("videogen:workspace", args=[ws.slug]), {"model": VEO})
    assert response.status_code == 200
    assert "prompt" in response.context["form"].errors
    assert VideoJob.objects.count() == 0


def test_budget_refusal_shows_the_message(app_on_simulator, enqueued, ws, member):
    ws.monthly_budget = Decimal("0.01")
    ws.save()
    response = as_user(member).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": VEO, "prompt": "A fox", "duration": "8"},
    )
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1 and "Monthly budget of workspace" in errors[0]
    assert b"Monthly budget of workspace" in response.content
    assert VideoJob.objects.count() == 0 and enqueued == []


def test_service_errors_on_fields_the_form_lacks_are_shown_above_it():
    form = JobRequestForm(data={"model": ""})
    form.is_valid()
    form.add_request_errors(
        ValidationError({"size": ["Bad size."], "__all__": ["Whole request wrong."]})
    )
    assert form.non_field_errors() == ["size: Bad size.", "Whole request wrong."]


def test_the_new_video_form_offers_the_request_schemas_choices_and_limits(
    app_on_simulator, ws, member
):
    from videogen.models import AspectRatio, Resolution
    from videogen.services.jobs import request as schema

    form = as_user(member).get(reverse("videogen:workspace", args=[ws.slug])).context["form"]
    assert list(form.fields) == ["model", "prompt", "duration", "resolution", "aspect_ratio"]
    assert [v for v, _ in form.fields["resolution"].choices] == ["", *Resolution.values]
    assert [v for v, _ in form.fields["aspect_ratio"].choices] == ["", *AspectRatio.values]
    duration = schema.FIELDS_BY_NAME["duration"]
    assert (form.fields["duration"].min_value, form.fields["duration"].max_value) == (
        duration.min_value,
        duration.max_value,
    )
    assert form.fields["prompt"].max_length == schema.MAX_PROMPT_CHARS


def test_the_form_reports_every_rule_of_the_request_schema_at_once(
    app_on_simulator, enqueued, ws, member
):
    response = as_user(member).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": VEO, "duration": "5", "resolution": "480p"},
    )
    errors = response.context["form"].errors.as_data()
    assert {field: [e.code for e in found] for field, found in errors.items()} == {
        "duration": ["unsupported_by_model"],
        "resolution": ["unsupported_by_model"],
        "prompt": ["required"],
    }
    assert VideoJob.objects.count() == 0 and enqueued == []


# --- job page: refresh and the stored video -----------------------------------------------


def test_refresh_polls_an_in_flight_job_and_redirects_back(ws, member, job, monkeypatch):
    polled = []
    monkeypatch.setattr(views, "job_poll_now", lambda *, job_id: polled.append(job_id))
    urls = page_urls(job)
    response = as_user(member).post(urls["job-refresh"])
    assert response.status_code == 302 and response["Location"] == urls["job"]
    assert polled == [job.pk]


def test_refresh_of_a_finished_job_polls_nothing(ws, member, monkeypatch):
    polled = []
    monkeypatch.setattr(views, "job_poll_now", lambda *, job_id: polled.append(job_id))
    done = make_job(ws, status="failed", error="Content policy")
    urls = page_urls(done)
    assert as_user(member).post(urls["job-refresh"]).status_code == 302
    assert polled == []
    page = as_user(member).get(urls["job"])
    assert b"Content policy" in page.content and b"Refresh" not in page.content


def test_the_timeline_lists_the_events(ws, member, job):
    JobEvent.objects.create(job=job, from_status="queued", to_status="pending", source="poll")
    page = as_user(member).get(page_urls(job)["job"])
    assert b"queued \xe2\x86\x92 pending" in page.content


def test_a_stored_output_plays_and_streams(
    app_on_simulator, enqueued, enqueued_fetches, media_storage, ws, viewer, outsider
):
    job = completed_job(ws)
    urls = page_urls(job)
    client = as_user(viewer)
    assert b"not stored on this site yet" in client.get(urls["job"]).content
    assert client.get(urls["job-output"]).status_code == 404  # not fetched yet
    outputs_fetch(job_id=job.pk)
    page = client.get(urls["job"])
    player = f'<video controls preload="metadata" src="{urls["job-output"]}">'
    assert player in page.content.decode()
    response = client.get(urls["job-output"])
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == SAMPLE.read_bytes()
    missing = reverse("videogen:job-output", args=[ws.slug, job.public_id, 1])
    assert client.get(missing).status_code == 404
    assert as_user(outsider).get(urls["job-output"]).status_code == 404


def test_an_output_whose_file_is_gone_is_404(
    app_on_simulator, enqueued, enqueued_fetches, media_storage, ws, member
):
    job = completed_job(ws)
    outputs_fetch(job_id=job.pk)
    output = job.outputs.get()
    output.file.storage.delete(output.file.name)
    assert as_user(member).get(page_urls(job)["job-output"]).status_code == 404


# --- the jobs list ------------------------------------------------------------------------


def test_jobs_are_paginated_newest_first(ws, member):
    for n in range(30):
        make_job(ws, prompt=f"prompt number {n:02d}")
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    first = client.get(url)
    assert len(first.context["page"].object_list) == 25
    assert b"prompt number 29" in first.content and b"prompt number 04" not in first.content
    assert b"page 1 of 2" in first.content
    second = client.get(url, {"page": 2})
    assert len(second.context["page"].object_list) == 5
    assert b"prompt number 00" in second.content


def _workspace_page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_workspace_page_query_count_does_not_grow_with_jobs(ws, member):
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    for _ in range(5):
        make_job(ws, created_by=member)
    few = _workspace_page_queries(client, url)
    for _ in range(25):
        make_job(ws, created_by=member)
    many = _workspace_page_queries(client, url)
    # session, user, workspace, count, catalog (form), jobs, outputs (prefetch)
    assert few == many <= 7


def test_jobs_created_from_the_page_record_the_web_source(app_on_simulator, enqueued):
    from videogen.models import JobEvent

    ws = make_workspace()
    user = make_member(ws, role="member")
    client = Client()
    client.force_login(user)
    client.post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": "google/veo-3.1", "prompt": "A fox"},
    )
    assert JobEvent.objects.get(to_status="queued").source == "web"


# --- hostile input ------------------------------------------------------------------------


def post_form(client, url: str, data: dict[str, str]):
    """Form-encoded as a browser would: what UTF-8 cannot encode goes as its (invalid) bytes."""
    body = urlencode(data, errors="surrogatepass")
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        ("A fox\x07 in snow", "control_characters"),
        ("A fox\x1b[31m in snow", "control_characters"),
        ("A fox\x00 in snow", "null_characters"),
        ("A fox\x85 in snow", "control_characters"),
    ],
)
def test_hostile_text_in_the_form_is_one_field_error_and_nothing_is_stored(
    app_on_simulator, enqueued, ws, member, prompt, code
):
    url = reverse("videogen:workspace", args=[ws.slug])
    response = post_form(as_user(member), url, {"model": VEO, "prompt": prompt, "duration": "8"})
    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert list(errors) == ["prompt"] and [e.code for e in errors["prompt"]] == [code]
    assert VideoJob.objects.count() == 0 and enqueued == []


def test_a_multi_line_prompt_is_fine(app_on_simulator, enqueued, ws, member):
    url = reverse("videogen:workspace", args=[ws.slug])
    prompt = "A fox in snow.\r\n\tSlow tracking shot."
    response = post_form(as_user(member), url, {"model": VEO, "prompt": prompt, "duration": "8"})
    assert response.status_code == 302
    assert VideoJob.objects.get().prompt == prompt


form_values = st.one_of(anything_text(), hostile_text(), st.sampled_from(["", "8", VEO, "720p"]))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.dictionaries(
        st.sampled_from(["model", "prompt", "duration", "resolution", "aspect_ratio", "x"]),
        form_values,
        max_size=5,
    ),
    page=anything_text(max_size=10),
)
def test_the_new_video_form_never_fails_and_stores_nothing_hostile(
    app_on_simulator, enqueued, ws, member, data, page
):
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    before = VideoJob.objects.count()
    response = post_form(client, url, data)
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert VideoJob.objects.count() == before
    for job in VideoJob.objects.all():
        assert hygiene.text_problem(job.prompt) is None
        assert hygiene.text_problem(job.model, multiline=False) is None
    listing = client.get(f"{url}?{urlencode({'page': page}, errors='surrogatepass')}")
    assert listing.status_code == 200
