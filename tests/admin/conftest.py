"""Admin tests: a superuser (``admin_client``, pytest-django's) and view-only staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.admin.scene import view_permissions
from tests.factories import make_user


@pytest.fixture
def viewer(db):
    """Staff who may view every videogen model, and change nothing."""
    user = make_user("viewer", is_staff=True)
    user.user_permissions.set(view_permissions())
    return user


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def run_action(client, action: str, objects, *, model: str = "videojob", follow=True, **extra):
    """Post an admin action on ``objects`` as the changelist's action form does."""
    return client.post(
        reverse(f"admin:videogen_{model}_changelist"),
        {
            "action": action,
            "index": "0",
            "_selected_action": [o.pk for o in objects],
            **extra,
        },
        follow=follow,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
