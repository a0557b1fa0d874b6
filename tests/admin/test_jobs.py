"""The job list, the job page and the job actions, driven through the admin's own URLs."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.admin.conftest import messages_of, run_action
from tests.admin.scene import SAMPLE_VIDEO, build, sync_catalog
from tests.factories import make_job, make_ledger_entry, make_workspace
from videogen.admin import paginator
from videogen.models import OutputStatus, VideoJob, VideoOutput

pytestmark = pytest.mark.django_db

LIST = "admin:videogen_videojob_changelist"


def job_page(job) -> str:
    return reverse("admin:videogen_videojob_change", args=[job.pk])


def listing(client, **params) -> str:
    response = client.get(reverse(LIST), params)
    assert response.status_code == 200
    return response.content.decode()


def rows(page: str) -> list[str]:
    """The list's rows, as HTML, in order."""
    if "<tbody>" not in page:
        return []
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_short_ids_badges_money_and_attention_only_where_true(admin_client):
    charged = make_job(status="completed", cost="1.5", duration=5)
    refused = make_job(status="failed")
    unknown = make_job(status="unknown", needs_attention=True, estimated_cost=Decimal("0.8"))
    page = listing(admin_client)
    for job in (charged, refused, unknown):
        assert f'title="{job.public_id}">{str(job.public_id)[:8]}</span>' in page
    assert '<span class="vg-badge vg-status-unknown">outcome unknown</span>' in page
    assert "1.50 USD" in page and "1.50000000" not in page
    assert "not charged" in page  # the failed job: never its estimate
    assert "≈ 0.80 USD" in page  # still in doubt: its estimate, marked as such
    flagged = [row for row in rows(page) if "needs attention" in row]
    assert len(flagged) == 1 and str(unknown.public_id)[:8] in flagged[0]
    assert "1 needs attention" in page  # the header's count


def test_a_failed_job_the_provider_billed_shows_its_charge(admin_client):
    make_job(status="failed", cost="0.25")
    page = listing(admin_client)
    assert "0.25 USD" in page and "not charged" not in page


def test_the_list_never_counts_or_scans_the_whole_table(admin_client):
    sync_catalog()
    workspace = make_workspace()
    for i in range(30):
        make_job(workspace, status="completed", cost=i, provider_job_id=f"p-{i}")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse(LIST))
    for i in range(30, 90):
        make_job(workspace, status="completed", cost=i, provider_job_id=f"p-{i}")
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(reverse(LIST)).content.decode()
    assert len(many) == len(few)  # related rows joined: no query per row
    sql = [q["sql"].upper() for q in many]
    assert not [s for s in sql if "DISTINCT" in s]  # no DISTINCT for filters or dates
    counts = [s for s in sql if "COUNT(" in s and "VIDEOGEN_VIDEOJOB" in s]
    # One count, capped by a LIMIT, and the attention count (a partial index).
    assert all("LIMIT" in s or "NEEDS_ATTENTION" in s for s in counts), counts
    assert "90 video jobs" in page


def test_a_list_longer_than_the_cap_says_more_than(admin_client, monkeypatch):
    monkeypatch.setattr(paginator.CappedCountPaginator, "cap", 5)
    workspace = make_workspace()
    for _ in range(8):
        make_job(workspace)
    page = listing(admin_client)
    assert "more than 5 video jobs" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"attention": "yes"}, {"unknown"}),
        ({"status__exact": "failed"}, {"failed"}),
        ({"model": "openai/sora-2"}, {"sora"}),
        ({"source": "web"}, {"web"}),
    ],
)
def test_filters(admin_client, params, expected):
    sync_catalog()
    workspace = make_workspace()
    make_job(workspace, prompt="unknown", status="unknown", needs_attention=True)
    make_job(workspace, prompt="failed", status="failed")
    make_job(workspace, prompt="sora", model="openai/sora-2")
    make_job(workspace, prompt="web", source="web")
    page = listing(admin_client, **params)
    shown = {p for p in ("unknown", "failed", "sora", "web") if f'title="{p}">{p}<' in page}
    assert shown == expected


def test_the_model_filter_offers_the_catalog_and_the_source_filter_the_creators(admin_client):
    sync_catalog()
    page = listing(admin_client)
    assert "?model=google%2Fveo-3.1" in page and "?model=minimax%2Fhailuo-02" in page
    assert "?source=web" in page and "?source=poll" not in page


def test_filter_by_workspace_and_by_creation_date(admin_client):
    here, there = make_workspace("here"), make_workspace("there")
    make_job(here, prompt="mine")
    make_job(there, prompt="theirs")
    page = listing(admin_client, workspace__id__exact=here.pk)
    assert "mine" in page and "theirs" not in page
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    page = listing(admin_client, created_at__gte=midnight.isoformat())
    assert "mine" in page and "theirs" in page


@pytest.mark.parametrize("how", ["uuid", "short id", "provider id", "generation id"])
def test_search_by_any_id_finds_exactly_that_job(admin_client, how):
    job = make_job(provider_job_id="vid_abc", generation_id="gen-xyz", prompt="a fox")
    make_job(prompt=f"a prompt that mentions {job.public_id} and vid_abc and gen-xyz")
    term = {
        "uuid": str(job.public_id),
        "short id": str(job.public_id)[:8].upper(),
        "provider id": "vid_abc",
        "generation id": "gen-xyz",
    }[how]
    page = listing(admin_client, q=term)
    assert len(rows(page)) == 1 and "a fox" in page


def test_search_without_a_matching_id_looks_for_every_word_of_the_prompt(admin_client):
    make_job(prompt="A red fox in the snow")
    make_job(prompt="A red car")
    page = listing(admin_client, q="fox red")
    assert len(rows(page)) == 1 and "A red fox" in page
    assert rows(listing(admin_client, q="deadbeef")) == []  # looks like a short id: no job


def test_the_date_hierarchy_is_drawn_from_the_first_and_last_dates(admin_client):
    old = make_job(prompt="an old job")
    VideoJob.objects.filter(pk=old.pk).update(created_at=timezone.now().replace(year=2024))
    make_job(prompt="a recent job")
    page = listing(admin_client)
    year = timezone.now().year
    assert all(f"?created_at__year={y}" in page for y in range(2024, year + 1))
    page = listing(admin_client, created_at__year=2024)
    assert "an old job" in page and "a recent job" not in page


def test_jobs_can_be_sorted_by_cost_with_unpriced_ones_last(admin_client):
    workspace = make_workspace()
    make_job(workspace, prompt="cheap", status="completed", cost="0.1")
    make_job(workspace, prompt="none", status="failed")
    make_job(workspace, prompt="dear", status="completed", cost="9")
    page = listing(admin_client, o="-6")  # the cost column (0 is the checkbox), descending
    order = [p for row in rows(page) for p in ("cheap", "none", "dear") if f">{p}<" in row]
    assert order == ["dear", "cheap", "none"]


# --- the job page ----------------------------------------------------------------------------


def test_the_job_page_plays_the_video_and_shows_its_history_in_sections(
    admin_client, media_storage
):
    scene = build(jobs=0)
    job = scene.completed_with_video
    page = admin_client.get(job_page(job)).content.decode()
    output = job.outputs.get()
    play = reverse("admin:videogen_videooutput_play", args=[output.pk])
    assert f'<video controls preload="metadata" src="{play}">' in page
    headings = re.findall(r"<h2[^>]*>\s*(.*?)\s*</h2>", page)
    for heading in ("Request", "Provider state", "Money", "Bookkeeping", "History (job events)"):
        assert heading in headings
    assert "2.40 USD" in page and "Job " + str(job.public_id)[:8] in page
    customer = reverse("videogen:job", args=[job.workspace.slug, job.public_id])
    assert f'href="{customer}"' in page and "Customer’s page" in page


def test_the_job_page_lists_its_webhook_deliveries(admin_client):
    scene = build(jobs=6, with_video=False)
    job = next(j for j in scene.jobs if j.webhook_deliveries.exists())
    delivery = job.webhook_deliveries.get()
    page = admin_client.get(job_page(job)).content.decode()
    assert "Webhook deliveries" in page
    assert reverse("admin:videogen_webhookdelivery_change", args=[delivery.pk]) in page


@pytest.mark.parametrize(
    ("case", "headline", "buttons"),
    [
        ("unknown", "Submission outcome unknown", ["Mark abandoned", "Resubmit (may bill twice)"]),
        ("missing_cost", "Cost never reported", ["Poll now"]),
    ],
)
def test_a_job_needing_attention_says_why_in_plain_words_with_its_remedies(
    admin_client, case, headline, buttons
):
    scene = build(jobs=0, with_video=False)
    page = admin_client.get(job_page(getattr(scene, case))).content.decode()
    assert headline in page
    for label in buttons:
        assert re.search(rf'class="button default">{re.escape(label)}</button>', page), label


def test_view_only_staff_see_the_job_page_without_any_action(viewer_client):
    job = make_job(status="unknown", needs_attention=True)
    page = viewer_client.get(job_page(job)).content.decode()
    assert "Submission outcome unknown" in page
    assert "vg-job-actions" not in page and 'name="_save"' not in page


def test_a_job_page_button_runs_its_action_and_comes_back_to_the_job(admin_client, enqueued_polls):
    job = make_job(status="in_progress", provider_job_id="vid-1")
    response = run_action(admin_client, "poll_jobs_now", [job], _job_page="1")
    assert response.redirect_chain[-1][0] == job_page(job)
    assert enqueued_polls == [job.pk]
    assert f"{str(job.public_id)[:8]}: poll queued." in messages_of(response)


def test_stored_video_plays_by_byte_range_and_downloads_whole(admin_client, media_storage):
    job = build(jobs=0).completed_with_video
    output = job.outputs.get()
    size = SAMPLE_VIDEO.stat().st_size
    play = reverse("admin:videogen_videooutput_play", args=[output.pk])
    part = admin_client.get(play, HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 0-99/{size}"
    assert b"".join(part.streaming_content) == SAMPLE_VIDEO.read_bytes()[:100]
    tail = admin_client.get(play, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == SAMPLE_VIDEO.read_bytes()[-10:]
    whole = admin_client.get(play)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert "attachment" not in whole.get("Content-Disposition", "")
    assert admin_client.get(play, HTTP_RANGE=f"bytes={size}-").status_code == 416
    download = admin_client.get(reverse("admin:videogen_videooutput_download", args=[output.pk]))
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == SAMPLE_VIDEO.read_bytes()


def test_stored_videos_need_the_view_permission(client, django_user_model, media_storage):
    job = build(jobs=0).completed_with_video
    nobody = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client.force_login(nobody)
    url = reverse("admin:videogen_videooutput_play", args=[job.outputs.get().pk])
    assert client.get(url).status_code == 403


def test_jobs_cannot_be_added_deleted_or_edited_by_hand(admin_client):
    job = make_job()
    assert admin_client.get(reverse("admin:videogen_videojob_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:videogen_videojob_delete", args=[job.pk])).status_code
        == 403
    )
    admin_client.post(job_page(job), {"prompt": "changed", "needs_attention": "on"})
    job.refresh_from_db()
    assert job.prompt != "changed"


# The change form's inlines (events; outputs and deliveries only when the job has some).
FORMSET_COUNTS = ("TOTAL_FORMS", "INITIAL_FORMS")


def test_saving_the_change_form_keeps_a_status_change_made_meanwhile(admin_client):
    from django.db.models.signals import post_init

    from videogen.services.jobs.lifecycle import job_transition

    job = make_job(status="pending", provider_job_id="vid-admin")
    armed = [True]

    def complete_meanwhile(sender, instance, **kwargs):
        # The poller completes the job after the admin read it and before it saves.
        if armed and instance.pk == job.pk:
            armed.clear()
            job_transition(job_id=job.pk, to_status="completed", source="poll")

    post_init.connect(complete_meanwhile, sender=VideoJob)
    try:
        response = admin_client.post(
            job_page(job),
            {"needs_attention": "on", **{f"events-{n}": "0" for n in FORMSET_COUNTS}},
        )
    finally:
        post_init.disconnect(complete_meanwhile, sender=VideoJob)
    assert response.status_code == 302, response.context["errors"]
    job.refresh_from_db()
    assert (job.status, job.needs_attention) == ("completed", True)
    assert job.finished_at is not None


# --- actions ---------------------------------------------------------------------------------


def test_poll_now_enqueues_a_poll_of_each_job_it_can_poll_and_says_why_not_for_the_others(
    admin_client, enqueued_polls
):
    running = make_job(status="in_progress", provider_job_id="p-1")
    unpriced = make_job(status="completed", provider_job_id="p-2")
    priced = make_job(status="completed", provider_job_id="p-3", cost="1")
    queued = make_job()
    response = run_action(admin_client, "poll_jobs_now", [running, unpriced, priced, queued])
    assert sorted(enqueued_polls) == sorted([running.pk, unpriced.pk])
    text = "\n".join(messages_of(response))
    assert "2 of 4 jobs queued for a poll." in text
    assert f"{str(unpriced.public_id)[:8]}: poll queued (its cost is missing)." in text
    assert f"{str(priced.public_id)[:8]}: completed and priced" in text
    assert f"{str(queued.public_id)[:8]}: not sent to the provider yet" in text


def test_poll_now_applies_the_provider_state_once_the_task_runs(
    admin_client, app_on_simulator, settings
):
    from videogen.services.jobs.submission import job_create, job_submit

    settings.VIDEOGEN = {**settings.VIDEOGEN, "TASKS_SYNC": True}
    job = job_create(
        workspace=make_job().workspace,
        data={"model": "google/veo-3.1", "prompt": "x", "duration": 4},
    )
    job_submit(job_id=job.pk)
    app_on_simulator.state.set_status(
        VideoJob.objects.get(pk=job.pk).provider_job_id, "failed", error="sim says no"
    )
    run_action(admin_client, "poll_jobs_now", [job])
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "sim says no")


def test_refetch_outputs_gives_back_attempts_and_enqueues_the_download(
    admin_client, enqueued_fetches
):
    done = make_job(status="completed", provider_job_id="p-1")
    VideoOutput.objects.create(job=done, index=0, status=OutputStatus.GAVE_UP, attempts=5)
    running = make_job(status="in_progress", provider_job_id="p-2")
    response = run_action(admin_client, "refetch_outputs", [done, running])
    assert enqueued_fetches == [done.pk]
    output = done.outputs.get()
    assert (output.status, output.attempts) == (OutputStatus.FAILED, 0)
    text = "\n".join(messages_of(response))
    assert "1 of 2 jobs queued for a download." in text
    assert "only completed jobs have videos to fetch" in text


def test_resubmit_action_asks_for_confirmation_and_warns_it_may_bill_twice(admin_client):
    unknown = make_job(status="unknown", needs_attention=True)
    done = make_job(status="completed")
    response = run_action(admin_client, "resubmit_jobs", [unknown, done])
    text = response.content.decode()
    assert "may be billed twice" in text
    assert str(unknown.public_id) in text and str(done.public_id) in text
    unknown.refresh_from_db()
    assert unknown.status == "unknown"  # nothing happened yet


def test_resubmit_action_once_confirmed_sends_a_new_job_for_unknown_outcomes_only(
    admin_client, enqueued, django_capture_on_commit_callbacks
):
    unknown = make_job(status="unknown", needs_attention=True, duration=8)
    done = make_job(status="completed")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(LIST),
            {
                "action": "resubmit_jobs",
                "_selected_action": [unknown.pk, done.pk],
                "confirm": "yes",
            },
            follow=True,
        )
    unknown.refresh_from_db()
    done.refresh_from_db()
    clone = VideoJob.objects.get(resubmission_of=unknown)
    assert (unknown.status, unknown.failure_reason, unknown.locally_closed) == (
        "failed",
        "resubmitted",
        True,
    )
    assert not unknown.needs_attention
    assert clone.status == "queued" and clone.duration == 8 and clone.source == "admin"
    assert done.status == "completed"
    assert enqueued == [clone.pk]
    text = response.content.decode()
    assert "1 of 2 jobs resubmitted" in text and str(clone.public_id) in text
    assert unknown.events.get(to_status="failed").source == "admin"


def test_resubmitting_from_the_job_page_lands_on_the_new_job(admin_client, enqueued):
    unknown = make_job(status="unknown", needs_attention=True)
    response = admin_client.post(
        reverse(LIST),
        {
            "action": "resubmit_jobs",
            "_selected_action": [unknown.pk],
            "confirm": "yes",
            "_job_page": "1",
        },
        follow=True,
    )
    clone = VideoJob.objects.get(resubmission_of=unknown)
    assert response.redirect_chain[-1][0] == job_page(clone)


def test_abandon_action_closes_unknown_outcomes_only(admin_client):
    unknown = make_job(status="unknown", needs_attention=True)
    queued = make_job()
    response = run_action(admin_client, "abandon_jobs", [unknown, queued])
    unknown.refresh_from_db()
    queued.refresh_from_db()
    assert (unknown.status, unknown.failure_reason) == ("failed", "abandoned")
    assert unknown.locally_closed and not unknown.needs_attention
    assert queued.status == "queued"
    assert "1 of 2 jobs marked abandoned" in response.content.decode()


def test_cancel_action_cancels_queued_jobs_only(admin_client):
    queued = make_job()
    pending = make_job(status="pending", provider_job_id="p-1")
    response = run_action(admin_client, "cancel_queued_jobs", [queued, pending])
    queued.refresh_from_db()
    pending.refresh_from_db()
    assert (queued.status, pending.status) == ("cancelled", "pending")
    assert "the provider, whose API cannot cancel a job" in response.content.decode()


def test_clear_attention_action(admin_client):
    flagged = make_job(status="completed", needs_attention=True)
    response = run_action(admin_client, "clear_attention", [flagged])
    flagged.refresh_from_db()
    assert not flagged.needs_attention
    assert "1 of 1 job cleared." in messages_of(response)


def test_bulk_actions_refuse_more_jobs_than_their_limit(admin_client, enqueued_polls, monkeypatch):
    from videogen.admin import job_actions as job_admin

    monkeypatch.setattr(job_admin, "MAX_ACTION_JOBS", 2)
    workspace = make_workspace()
    jobs = [make_job(workspace, status="in_progress", provider_job_id=f"p-{i}") for i in range(3)]
    response = run_action(admin_client, "poll_jobs_now", jobs)
    assert enqueued_polls == []
    assert "Select at most 2 jobs" in "\n".join(messages_of(response))


def test_export_csv_streams_the_selected_jobs_and_defuses_formulas(admin_client):
    job = make_job(status="completed", cost="1.25", prompt="=HYPERLINK(evil)")
    make_job(prompt="not selected")
    response = run_action(admin_client, "export_csv", [job], follow=False)
    assert response["Content-Type"] == "text/csv"
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(table) == 1
    assert table[0]["id"] == str(job.public_id) and table[0]["cost_usd"] == "1.25000000"
    assert table[0]["prompt"] == "'=HYPERLINK(evil)"


def test_export_csv_of_every_job_of_the_filtered_list(admin_client):
    workspace = make_workspace()
    for i in range(3):
        make_job(workspace, status="failed", prompt=f"failed {i}")
    make_job(workspace, status="completed")
    response = admin_client.post(
        reverse(LIST) + "?status__exact=failed",
        {"action": "export_csv", "index": "0", "select_across": "1", "_selected_action": ["0"]},
    )
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(lines) == 4 and all(",failed," in line for line in lines[1:])


@pytest.mark.parametrize(
    "action",
    [
        "poll_jobs_now",
        "refetch_outputs",
        "cancel_queued_jobs",
        "abandon_jobs",
        "resubmit_jobs",
        "clear_attention",
    ],
)
def test_view_only_staff_cannot_run_the_actions_that_change_jobs(
    viewer_client, action, enqueued_polls, enqueued_fetches, enqueued
):
    jobs = [
        make_job(),
        make_job(status="unknown", needs_attention=True),
        make_job(status="in_progress", provider_job_id="p-1"),
        make_job(status="completed", provider_job_id="p-2"),
    ]
    before = list(VideoJob.objects.order_by("pk").values_list("status", "needs_attention"))
    response = run_action(viewer_client, action, jobs, confirm="yes")
    assert "No action selected." in messages_of(response)
    after = list(VideoJob.objects.order_by("pk").values_list("status", "needs_attention"))
    assert after == before and VideoJob.objects.count() == 4
    assert enqueued_polls == enqueued_fetches == enqueued == []


def test_view_only_staff_may_export(viewer_client):
    job = make_job()
    response = run_action(viewer_client, "export_csv", [job], follow=False)
    assert response["Content-Type"] == "text/csv"


# --- hostile input in the list's query string ------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["q=a%00b", "model=a%00b", "status__exact=queued%07", "workspace__id__exact=1%00", "a%00=1"],
)
def test_changelist_filters_with_hostile_text_are_dropped_with_a_message(admin_client, query):
    """On PostgreSQL a NUL in a filter was a 500 (text fields cannot contain NUL)."""
    make_job()
    url = reverse(LIST)
    response = admin_client.get(f"{url}?{query}", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(url, 302)]
    assert "Ignored the list&#x27;s filters" in response.content.decode()


@pytest.mark.postgres
def test_changelist_filters_with_a_nul_on_postgresql(admin_client):
    test_changelist_filters_with_hostile_text_are_dropped_with_a_message(
        admin_client, "model=a%00b"
    )


def test_a_ledger_row_written_later_is_shown_on_the_next_visit(admin_client):
    job = make_job(status="completed", provider_job_id="p-late")
    assert "cost pending" in listing(admin_client)
    make_ledger_entry(job, cost="3")
    assert "3.00 USD" in listing(admin_client)
