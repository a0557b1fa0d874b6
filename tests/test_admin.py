import html
import json

import pytest
from django.urls import reverse

from tests.factories import make_job
from videogen.models import VideoJob, VideoModel, Workspace

pytestmark = pytest.mark.django_db

MODELS = ["workspace", "videojob", "jobevent", "usageentry", "webhookdelivery", "videomodel"]


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_working_changelist(admin_client, model):
    make_job()
    response = admin_client.get(reverse(f"admin:videogen_{model}_changelist"))
    assert response.status_code == 200


def test_job_change_page_renders(admin_client):
    job = make_job()
    response = admin_client.get(reverse("admin:videogen_videojob_change", args=[job.pk]))
    assert response.status_code == 200
    assert str(job.public_id) in response.content.decode()


def run_action(client, action, jobs):
    return client.post(
        reverse("admin:videogen_videojob_changelist"),
        {"action": action, "_selected_action": [j.pk for j in jobs]},
        follow=True,
    )


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
            reverse("admin:videogen_videojob_changelist"),
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
    assert clone.status == "queued" and clone.duration == 8
    assert done.status == "completed"
    assert enqueued == [clone.pk]
    text = response.content.decode()
    assert "1 of 2 jobs resubmitted" in text and str(clone.public_id) in text
    assert unknown.events.get(to_status="failed").source == "admin"


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
    run_action(admin_client, "cancel_queued_jobs", [queued, pending])
    queued.refresh_from_db()
    pending.refresh_from_db()
    assert (queued.status, pending.status) == ("cancelled", "pending")


def test_poll_now_action_applies_the_provider_state(admin_client, app_on_simulator, enqueued):
    from videogen.services.jobs.submission import job_create, job_submit

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


def test_jobs_cannot_be_added_or_edited_by_hand(admin_client):
    job = make_job()
    assert admin_client.get(reverse("admin:videogen_videojob_add")).status_code == 403
    admin_client.post(
        reverse("admin:videogen_videojob_change", args=[job.pk]),
        {"prompt": "changed", "needs_attention": "on"},
    )
    job.refresh_from_db()
    assert job.prompt != "changed"


def deliver_webhook(settings, body: bytes) -> int:
    from django.test import Client

    from tests.webhook_signing import SECRET, sign

    settings.VIDEOGEN = {"API_KEY": "k", "WEBHOOK_SECRETS": [SECRET]}
    return (
        Client()
        .post(
            "/videogen/webhooks/openrouter/",
            body,
            content_type="application/json",
            HTTP_X_OPENROUTER_SIGNATURE=sign(body),
        )
        .status_code
    )


def replay(admin_client, delivery) -> str:
    response = admin_client.post(
        reverse("admin:videogen_webhookdelivery_changelist"),
        {"action": "replay_deliveries", "_selected_action": [delivery.pk]},
        follow=True,
    )
    return response.content.decode()


def test_webhook_replay_applies_a_stored_event_once_its_job_exists(admin_client, settings):
    from tests.webhook_signing import event
    from videogen.models import WebhookDelivery

    deliver_webhook(settings, event("job-late"))
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "unknown_job"
    job = make_job(status="pending", provider_job_id="job-late")
    assert "pending → completed" in replay(admin_client, delivery)
    job.refresh_from_db()
    assert job.status == "completed"
    delivery.refresh_from_db()
    assert delivery.outcome == "processed" and delivery.job == job


def test_rejected_deliveries_are_never_replayed(admin_client):
    from videogen.models import WebhookDelivery

    delivery = WebhookDelivery.objects.create(body="{}", signature_valid=False, outcome="rejected")
    assert "never replayed" in replay(admin_client, delivery)


def test_unprocessable_deliveries_are_not_replayed(admin_client, settings):
    from tests.webhook_signing import event
    from videogen.models import WebhookDelivery

    job = make_job(status="in_progress", provider_job_id="job-poison")
    assert deliver_webhook(settings, event("job-poison", generation_id="g" * 201)) == 200
    delivery = WebhookDelivery.objects.get()
    assert "not replayed" in replay(admin_client, delivery)
    job.refresh_from_db()
    assert job.status == "in_progress"
    listing = admin_client.get(
        reverse("admin:videogen_webhookdelivery_changelist"), {"outcome": "unprocessable"}
    )
    assert listing.status_code == 200 and "job-poison" in listing.content.decode()


def test_usage_report_page_shows_spend_and_downloads_csv(admin_client):
    from decimal import Decimal

    from django.utils import timezone

    from videogen.models import UsageEntry

    job = make_job(status="completed", duration=5)
    UsageEntry.objects.create(
        job=job,
        workspace=job.workspace,
        model=job.model,
        cost=Decimal("1.5"),
        duration=5,
        completed_at=timezone.now(),
    )
    url = reverse("admin:videogen_usageentry_report")
    assert (
        "Usage report"
        in admin_client.get(reverse("admin:videogen_usageentry_changelist")).content.decode()
    )
    page = admin_client.get(url, {"group_by": ["model"]}).content.decode()
    assert "google/veo-3.1" in page and "1.50000000" in page
    csv_response = admin_client.get(url, {"group_by": ["day"], "format": "csv"})
    assert csv_response["Content-Type"] == "text/csv"
    assert csv_response.content.decode().startswith("day,jobs")


def test_usage_report_page_shows_form_errors_not_500(admin_client):
    url = reverse("admin:videogen_usageentry_report")
    response = admin_client.get(
        url, {"start": "2026-12-01", "end": "2026-11-01", "time_zone": "Mars/X"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "ends before it starts" in text and "Unknown time zone" in text


def test_usage_report_needs_view_permission(client, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:videogen_usageentry_report")).status_code == 403


def test_stored_output_is_listed_and_downloadable_by_staff(
    admin_client, app_on_simulator, enqueued, enqueued_fetches, media_storage
):
    from tests.services.jobs.test_outputs import SAMPLE, completed_job
    from videogen.services.jobs.outputs import outputs_fetch

    job = completed_job(make_job().workspace)
    outputs_fetch(job_id=job.pk)
    page = admin_client.get(
        reverse("admin:videogen_videojob_change", args=[job.pk])
    ).content.decode()
    output = job.outputs.get()
    url = reverse("admin:videogen_videooutput_download", args=[output.pk])
    assert url in page
    response = admin_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == SAMPLE.read_bytes()


# --- hostile input in the admin -----------------------------------------------------------


def inline_management(client, url):
    """The inline formsets' management fields of an admin add/change page, empty."""
    data = {}
    for inline in client.get(url).context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


@pytest.mark.parametrize(
    ("name", "code"),
    [("Studio\x07", "control_characters"), ("Stu\x00dio", "null_characters"), ("A\nB", None)],
)
def test_workspace_form_refuses_hostile_text(admin_client, name, code):
    url = reverse("admin:videogen_workspace_add")
    data = {"name": name, "slug": "studio", "budget_policy": "block"}
    response = admin_client.post(url, {**data, **inline_management(admin_client, url)})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()["name"]
    assert [e.code for e in errors] == [code or "control_characters"]
    assert not Workspace.objects.exists()


def catalog_model_form(model: VideoModel, **changes) -> dict:
    data = {
        "model_id": model.model_id,
        "canonical_slug": model.canonical_slug,
        "name": model.name,
        "description": model.description,
        "provider_created_at_0": "",
        "provider_created_at_1": "",
        "supported_durations": json.dumps(model.supported_durations),
        "supported_resolutions": json.dumps(model.supported_resolutions),
        "supported_aspect_ratios": json.dumps(model.supported_aspect_ratios),
        "supported_sizes": json.dumps(model.supported_sizes),
        "supported_frame_images": json.dumps(model.supported_frame_images),
        "generate_audio": "unknown",
        "seed": "unknown",
        "pricing_skus": json.dumps(model.pricing_skus),
        "allowed_passthrough_parameters": json.dumps(model.allowed_passthrough_parameters),
        "is_active": "on",
    }
    return {**data, **changes}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 5000 + "]" * 5000, "too_deep"),  # was a RecursionError: a 500
        ('["\\ud800"]', "invalid_characters"),  # was stored, then a UnicodeEncodeError
        ('{"a\\u0000": 1}', "null_characters"),
        ("[1e400]", "number_out_of_range"),
    ],
)
def test_catalog_json_fields_refuse_hostile_json(admin_client, text, code):
    model = VideoModel.objects.create(model_id="acme/one", name="One", supported_durations=[4])
    url = reverse("admin:videogen_videomodel_change", args=[model.pk])
    response = admin_client.post(url, catalog_model_form(model, supported_sizes=text))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()
    assert list(errors) == ["supported_sizes"]
    assert [e.code for e in errors["supported_sizes"]] == [code]
    assert html.escape(text[:50]) in response.content.decode()  # shown back as typed
    model.refresh_from_db()
    assert model.supported_sizes is None


def test_catalog_json_fields_still_save_good_json(admin_client):
    model = VideoModel.objects.create(model_id="acme/one", name="One", supported_durations=[4])
    url = reverse("admin:videogen_videomodel_change", args=[model.pk])
    response = admin_client.post(url, catalog_model_form(model, supported_sizes='["1280x720"]'))
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.supported_sizes == ["1280x720"]


@pytest.mark.parametrize(
    "query",
    ["q=a%00b", "model=a%00b", "status__exact=queued%07", "workspace__id__exact=1%00", "a%00=1"],
)
def test_changelist_filters_with_hostile_text_are_dropped_with_a_message(admin_client, query):
    """On PostgreSQL a NUL in a filter was a 500 (text fields cannot contain NUL)."""
    make_job()
    url = reverse("admin:videogen_videojob_changelist")
    response = admin_client.get(f"{url}?{query}", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(url, 302)]
    assert "Ignored the list&#x27;s filters" in response.content.decode()


@pytest.mark.postgres
def test_changelist_filters_with_a_nul_on_postgresql(admin_client):
    test_changelist_filters_with_hostile_text_are_dropped_with_a_message(
        admin_client, "model=a%00b"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "9999-12-31", "end": "9999-12-31"}, "start"),  # was an OverflowError
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start"),
        ({"workspaces": "99999999999999999999999"}, "workspaces"),  # SQLite overflowed
        ({"workspaces": "1" * 5000}, "workspaces"),
        ({"time_zone": "Europe/Paris\x07"}, "time_zone"),
        ({"time_zone": "x" * 300}, "time_zone"),
    ],
)
def test_usage_report_refuses_values_out_of_range(admin_client, params, field):
    response = admin_client.get(reverse("admin:videogen_usageentry_report"), params)
    assert response.status_code == 200
    assert field in response.context["form"].errors


# The change form's inlines (outputs, events), empty.
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
            reverse("admin:videogen_videojob_change", args=[job.pk]),
            {
                "needs_attention": "on",
                **{f"{p}-{n}": "0" for p in ("outputs", "events") for n in FORMSET_COUNTS},
            },
        )
    finally:
        post_init.disconnect(complete_meanwhile, sender=VideoJob)
    assert response.status_code == 302, response.context["errors"]
    job.refresh_from_db()
    assert (job.status, job.needs_attention) == ("completed", True)
    assert job.finished_at is not None
