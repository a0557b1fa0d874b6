"""The workspace web pages: who sees what, the "New video" form, refresh, the live parts,
the job list's keyset pages, costs in words, and the stored video served with HTTP ranges."""

from __future__ import annotations

import re
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
        assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("name", ["workspace", "job", "job-refresh", "job-output"])
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head"])
def test_another_workspace_is_404_for_every_method(job, outsider, name, method):
    response = getattr(as_user(outsider), method)(page_urls(job)[name])
    assert response.status_code == 404
    assert VideoJob.objects.count() == 1


def test_another_workspace_is_not_listed(ws, outsider):
    response = as_user(outsider).get(reverse("videogen:workspaces"))
    assert b'href="/videogen/w/elsewhere/"' in response.content
    assert b"/videogen/w/studio/" not in response.content


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
    assert form.has_error("duration", "invalid_choice")  # the model offers 4, 6 or 8
    assert "999 is not one of the available choices" in form.errors["duration"][0]
    assert b'aria-invalid="true"' in response.content
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


def test_the_new_video_form_offers_only_what_the_chosen_model_takes(app_on_simulator, ws, member):
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    form = client.get(url, {"model": VEO}).context["form"]
    offered = {
        name: [v for v, _ in f.choices] for name, f in form.fields.items() if hasattr(f, "choices")
    }
    assert offered["duration"] == [4, 6, 8]
    assert offered["resolution"] == ["720p", "1080p"]
    assert offered["aspect_ratio"] == ["16:9", "9:16"]
    assert "size" not in form.fields  # Veo takes no exact size
    assert form.fields["generate_audio"].initial is True and "seed" in form.fields
    assert form.frame_types == ["first_frame", "last_frame"]
    sora = client.get(url, {"model": "openai/sora-2"}).context["form"]
    assert [v for v, _ in sora.fields["size"].choices] == ["", "1280x720", "720x1280"]
    assert "seed" not in sora.fields and sora.frame_types == ["first_frame"]
    hailuo = client.get(url, {"model": "minimax/hailuo-02"}).context["form"]
    assert "generate_audio" not in hailuo.fields and hailuo.frame_types == []


def test_a_model_that_restricts_nothing_gets_the_schemas_choices_and_limits(
    app_on_simulator, ws, member
):
    from videogen.models import AspectRatio, Resolution, VideoModel
    from videogen.services.jobs import request as schema

    VideoModel.objects.create(model_id="open/anything", name="Anything", pricing_skus={})
    page = as_user(member).get(
        reverse("videogen:workspace", args=[ws.slug]), {"model": "open/anything"}
    )
    form = page.context["form"]
    assert [v for v, _ in form.fields["resolution"].choices] == ["", *Resolution.values]
    assert [v for v, _ in form.fields["aspect_ratio"].choices] == ["", *AspectRatio.values]
    duration = schema.FIELDS_BY_NAME["duration"]
    assert (form.fields["duration"].min_value, form.fields["duration"].max_value) == (
        duration.min_value,
        duration.max_value,
    )
    assert form.fields["prompt"].max_length == schema.MAX_PROMPT_CHARS
    assert b"The model publishes no prices." in page.content


def test_the_form_reports_every_rule_of_the_request_schema_at_once(
    app_on_simulator, enqueued, ws, member
):
    response = as_user(member).post(
        reverse("videogen:workspace", args=[ws.slug]),
        {"model": VEO, "duration": "5", "resolution": "480p"},
    )
    errors = response.context["form"].errors.as_data()
    assert {field: [e.code for e in found] for field, found in errors.items()} == {
        "duration": ["invalid_choice"],
        "resolution": ["invalid_choice"],
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
    assert "Queued → pending" in page.content.decode()


def test_a_stored_output_plays_and_streams(
    app_on_simulator, enqueued, enqueued_fetches, media_storage, ws, viewer, outsider
):
    job = completed_job(ws)
    urls = page_urls(job)
    client = as_user(viewer)
    assert b"Copying the video to this site" in client.get(urls["job"]).content
    assert client.get(urls["job-output"]).status_code == 404  # not fetched yet
    outputs_fetch(job_id=job.pk)
    page = client.get(urls["job"]).content.decode()
    assert f'src="{urls["job-output"]}"' in page and "<video controls" in page
    assert f'href="{urls["job-output"]}?download=1" download>Download video' in page
    response = client.get(urls["job-output"])
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"].startswith('inline; filename="a-fox-')
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


def _older_link(content: bytes) -> str | None:
    match = re.search(rb'href="\?older=([A-Za-z0-9_-]+)"', content)
    return match[1].decode() if match else None


def test_jobs_are_paginated_newest_first_by_keyset(ws, member):
    for n in range(60):
        make_job(ws, prompt=f"prompt number {n:02d}")
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    first = client.get(url)
    assert [j.prompt for j in first.context["page"].items][:2] == [
        "prompt number 59",
        "prompt number 58",
    ]
    assert b"Newer" not in first.content
    second = client.get(url, {"older": _older_link(first.content)})
    assert len(second.context["page"].items) == 25
    assert second.context["page"].items[0].prompt == "prompt number 34"
    assert b"Newest" in second.content and b"Newer" in second.content
    third = client.get(url, {"older": _older_link(second.content)})
    assert [j.prompt for j in third.context["page"].items] == [
        f"prompt number {n:02d}" for n in range(9, -1, -1)
    ]
    assert _older_link(third.content) is None
    back = client.get(url, {"newer": third.context["page"].newer})
    assert [j.pk for j in back.context["page"].items] == [
        j.pk for j in second.context["page"].items
    ]


def test_jobs_created_in_the_same_instant_are_each_listed_once(ws, member):
    jobs = [make_job(ws, prompt=f"twin {n}") for n in range(30)]
    VideoJob.objects.filter(pk__in=[j.pk for j in jobs]).update(created_at=jobs[0].created_at)
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    seen, older = [], None
    while True:
        response = client.get(url, {"older": older} if older else {})
        seen += [j.pk for j in response.context["page"].items]
        older = _older_link(response.content)
        if older is None:
            break
    assert sorted(seen) == sorted(j.pk for j in jobs) and len(seen) == len(set(seen))


def test_the_workspace_page_runs_no_offset_and_no_count_query(ws, member):
    for n in range(30):
        make_job(ws, prompt=f"prompt number {n:02d}")
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    cursor = _older_link(client.get(url).content)
    for params in ({}, {"older": cursor}):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, params).status_code == 200
        sql = " ".join(q["sql"].upper() for q in queries)
        assert " OFFSET " not in sql and "COUNT(" not in sql


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "", "x" * 500, "MjAyNS0wMS0wMVQwMDowMDowMHwx", "\ud800", "AAAA\x00", "../../etc"],
)
def test_a_page_link_that_was_edited_is_a_clear_400(ws, member, cursor):
    make_job(ws)
    url = reverse("videogen:workspace", args=[ws.slug])
    response = post_free_get(as_user(member), url, {"older": cursor})
    if cursor == "":
        assert response.status_code == 200  # no cursor: the first page
        return
    assert response.status_code == 400
    assert b"This page link is not valid." in response.content


def post_free_get(client, url: str, params: dict[str, str]):
    """GET with the query string encoded as a browser would, invalid UTF-8 and all."""
    return client.get(f"{url}?{urlencode(params, errors='surrogatepass')}")


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
    listing = post_free_get(client, url, {"older": page})
    assert listing.status_code in (200, 400)


# --- the parts that update by themselves ----------------------------------------------------


def htmx_get(client, url: str, target: str, **params):
    return client.get(url, params, headers={"HX-Request": "true", "HX-Target": target})


def test_the_job_list_asks_again_while_a_job_runs_and_stops_when_all_are_final(ws, member):
    running = make_job(ws, status="in_progress", prompt="still rendering")
    client = as_user(member)
    url = reverse("videogen:workspace", args=[ws.slug])
    page = client.get(url).content.decode()
    assert 'id="vg-jobs" hx-get="/videogen/w/studio/" hx-trigger="every 2s"' in page
    part = htmx_get(client, url, "vg-jobs")
    assert part.status_code == 200
    text = part.content.decode()
    assert text.lstrip().startswith('<div id="vg-jobs"') and "<html" not in text
    assert "In progress" in text and 'hx-trigger="every 2s"' in text
    VideoJob.objects.filter(pk=running.pk).update(status="completed")
    final = htmx_get(client, url, "vg-jobs").content.decode()
    assert "Completed" in final and "hx-trigger" not in final


def test_the_job_page_part_sends_the_video_only_when_it_changed(
    app_on_simulator, enqueued, enqueued_fetches, media_storage, ws, member
):
    job = completed_job(ws)
    client = as_user(member)
    url = page_urls(job)["job"]
    waiting = htmx_get(client, url, "vg-job-facts", shown="pending.making").content.decode()
    assert 'id="vg-job-facts"' in waiting and "<html" not in waiting
    assert (
        'id="vg-job-media" class="vg-card" aria-labelledby="video-heading" hx-swap-oob="true"'
        in waiting
    )
    assert "Copying the video to this site" in waiting
    assert 'hx-trigger="every 2s"' in waiting  # the video is on its way
    assert "Status: completed." in waiting  # said to screen readers
    outputs_fetch(job_id=job.pk)
    ready = htmx_get(client, url, "vg-job-facts", shown="completed.coming").content.decode()
    assert "<video controls" in ready and "The video is ready to play." in ready
    assert "hx-trigger" not in ready  # settled: cost known, video stored
    again = htmx_get(client, url, "vg-job-facts", shown="completed.ready").content.decode()
    assert "<video" not in again and "vg-announce" not in again


# --- costs in words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "cost", "says", "never"),
    [
        ({"status": "pending"}, None, "0.50 USD (estimate)", None),
        ({"status": "unknown"}, None, "0.50 USD (estimate)", None),
        ({"status": "failed"}, None, "not charged", "0.50 USD"),
        ({"status": "expired"}, None, "not charged", "0.50 USD"),
        ({"status": "cancelled"}, 0, "not charged", "0.50 USD"),
        ({"status": "failed"}, "0.3", "0.30 USD charged", "0.50 USD"),
        ({"status": "completed"}, "1.2", "1.20 USD", "0.50 USD"),
        ({"status": "completed"}, None, "cost not reported yet", None),
        ({"status": "completed"}, "0.0035", "0.0035 USD", None),
    ],
)
def test_costs_read_as_what_they_are(ws, member, fields, cost, says, never):
    kwargs = {} if cost is None else {"cost": cost}
    job = make_job(ws, estimated_cost=Decimal("0.5"), **fields, **kwargs)
    client = as_user(member)
    job_page = client.get(page_urls(job)["job"]).content.decode()
    assert says in job_page
    listing = client.get(page_urls(job)["workspace"]).content.decode()
    if "estimate" in says:
        assert "est. 0.50 USD" in listing  # short, in the table
    elif "not reported" in says:
        assert "cost pending" in listing
    else:
        assert says in listing
    for text in (job_page, listing):
        assert "~" not in text
        if never:  # the estimate as an amount (a bare "0.50" may be in a timestamp)
            assert never not in text
