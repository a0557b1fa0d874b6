"""Every admin page of videogen renders for a superuser and for view-only staff."""

import pytest
from django.urls import reverse

from tests.admin.scene import build
from videogen.models import VideoModel

pytestmark = pytest.mark.django_db

MODELS = ["workspace", "videojob", "jobevent", "usageentry", "webhookdelivery", "videomodel"]


def every_page(scene) -> list[str]:
    job = scene.completed_with_video
    pages = [reverse("admin:index"), reverse("admin:app_list", args=["videogen"])]
    pages += [reverse(f"admin:videogen_{m}_changelist") for m in MODELS]
    pages += [
        reverse("admin:videogen_videojob_change", args=[j.pk])
        for j in (job, scene.unknown, scene.missing_cost, scene.jobs[0])
    ]
    pages += [
        reverse("admin:videogen_workspace_change", args=[scene.workspaces[0].pk]),
        reverse("admin:videogen_usageentry_change", args=[job.usage_entry.pk]),
        reverse("admin:videogen_jobevent_change", args=[job.events.first().pk]),
        reverse("admin:videogen_videomodel_change", args=[VideoModel.objects.first().pk]),
        reverse("admin:videogen_usageentry_report"),
        reverse("admin:videogen_usageentry_report") + "?group_by=day&group_by=workspace",
    ]
    delivery = next(j for j in scene.jobs if j.webhook_deliveries.exists()).webhook_deliveries.get()
    pages.append(reverse("admin:videogen_webhookdelivery_change", args=[delivery.pk]))
    pages += [
        reverse("admin:videogen_videojob_changelist") + query
        for query in ("?attention=yes", "?q=fox", "?created_at__year=2026", "?o=-6")
    ]
    return pages


@pytest.mark.parametrize("who", ["superuser", "view-only staff"])
def test_every_page_renders(admin_client, viewer_client, who, media_storage):
    client = admin_client if who == "superuser" else viewer_client
    scene = build(jobs=30)
    for url in every_page(scene):
        response = client.get(url)
        assert response.status_code == 200, url
