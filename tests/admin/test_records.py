"""The ledger, job events and webhook deliveries are records: nobody adds, changes or
deletes them in the admin, superusers included; replaying a delivery stays an action."""

import pytest
from django.urls import reverse

from tests.admin.conftest import run_action
from tests.factories import make_job, make_ledger_entry
from videogen.models import JobEvent, WebhookDelivery

pytestmark = pytest.mark.django_db


def records():
    job = make_job(status="completed", provider_job_id="vid-1", generation_id="gen-1")
    entry = make_ledger_entry(job, cost="1.5")
    event = JobEvent.objects.create(job=job, from_status="", to_status="queued", source="api")
    delivery = WebhookDelivery.objects.create(
        idempotency_key="vid-1-completed", provider_job_id="vid-1", job=job, outcome="processed"
    )
    return {"usageentry": entry, "jobevent": event, "webhookdelivery": delivery}


@pytest.mark.parametrize("model", ["usageentry", "jobevent", "webhookdelivery"])
def test_records_cannot_be_added_changed_or_deleted_even_by_a_superuser(admin_client, model):
    record = records()[model]
    before = {f.name: getattr(record, f.attname) for f in type(record)._meta.concrete_fields}
    assert admin_client.get(reverse(f"admin:videogen_{model}_add")).status_code == 403
    delete = reverse(f"admin:videogen_{model}_delete", args=[record.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse(f"admin:videogen_{model}_change", args=[record.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(change, {"cost": "0", "message": "x"}).status_code == 403
    changelist = admin_client.get(reverse(f"admin:videogen_{model}_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    record.refresh_from_db()
    assert {
        f.name: getattr(record, f.attname) for f in type(record)._meta.concrete_fields
    } == before


def test_records_inline_on_the_job_page_are_read_only(admin_client):
    job = records()["jobevent"].job
    page = admin_client.get(reverse("admin:videogen_videojob_change", args=[job.pk]))
    for inline in page.context["inline_admin_formsets"]:
        assert not inline.has_add_permission and not inline.has_change_permission
        assert not inline.has_delete_permission


@pytest.mark.parametrize("model", ["usageentry", "jobevent", "webhookdelivery"])
@pytest.mark.parametrize("term", ["job uuid", "short id", "vid-1", "gen-1"])
def test_records_are_found_by_their_jobs_ids(admin_client, model, term):
    found = records()[model]
    job = found.job
    other = make_job(status="completed", provider_job_id="vid-2")
    JobEvent.objects.create(job=other, to_status="queued", source="api")
    make_ledger_entry(other, cost="2")
    WebhookDelivery.objects.create(idempotency_key="vid-2-completed", job=other)
    query = {"job uuid": str(job.public_id), "short id": str(job.public_id)[:8]}.get(term, term)
    response = admin_client.get(reverse(f"admin:videogen_{model}_changelist"), {"q": query})
    assert list(response.context["cl"].result_list) == [found]


def test_a_delivery_is_found_by_its_idempotency_key(admin_client):
    delivery = records()["webhookdelivery"]
    response = admin_client.get(
        reverse("admin:videogen_webhookdelivery_changelist"), {"q": "vid-1-completed"}
    )
    assert list(response.context["cl"].result_list) == [delivery]


def test_the_ledger_list_shows_money_and_byok_only_where_true(admin_client):
    records()
    page = admin_client.get(reverse("admin:videogen_usageentry_changelist")).content.decode()
    assert "1.50 USD" in page and "1.50000000" not in page
    assert "icon-no.svg" not in page  # no column of red crosses


# --- replay --------------------------------------------------------------------------------


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


def replay(client, delivery) -> str:
    response = run_action(client, "replay_deliveries", [delivery], model="webhookdelivery")
    return response.content.decode()


def test_webhook_replay_applies_a_stored_event_once_its_job_exists(admin_client, settings):
    from tests.webhook_signing import event

    deliver_webhook(settings, event("job-late"))
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "unknown_job"
    job = make_job(status="pending", provider_job_id="job-late")
    assert "pending → completed" in replay(admin_client, delivery)
    job.refresh_from_db()
    assert job.status == "completed"
    delivery.refresh_from_db()
    assert delivery.outcome == "processed" and delivery.job == job


def test_view_only_staff_cannot_replay(viewer_client, settings):
    from tests.webhook_signing import event

    deliver_webhook(settings, event("job-late"))
    delivery = WebhookDelivery.objects.get()
    job = make_job(status="pending", provider_job_id="job-late")
    page = viewer_client.get(reverse("admin:videogen_webhookdelivery_changelist"))
    assert "replay_deliveries" not in page.content.decode()
    run_action(viewer_client, "replay_deliveries", [delivery], model="webhookdelivery")
    job.refresh_from_db()
    assert job.status == "pending"


def test_rejected_deliveries_are_never_replayed(admin_client):
    delivery = WebhookDelivery.objects.create(body="{}", signature_valid=False, outcome="rejected")
    assert "never replayed" in replay(admin_client, delivery)


def test_unprocessable_deliveries_are_not_replayed(admin_client, settings):
    from tests.webhook_signing import event

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
