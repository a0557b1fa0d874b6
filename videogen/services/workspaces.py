"""Workspaces and their members."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from videogen.models import Role, Workspace, WorkspaceMembership


@transaction.atomic
def workspace_add_member(
    *, workspace: Workspace, user, role: str = Role.MEMBER
) -> WorkspaceMembership:
    membership, _ = WorkspaceMembership.objects.update_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    return membership


@transaction.atomic
def demo_setup(*, username: str, workspace_slug: str, password: str) -> tuple[Workspace, bool]:
    """Create the demo workspace and its admin user (superuser) if missing.

    Returns the workspace and whether the user was created (its password set only then).
    """
    workspace, _ = Workspace.objects.get_or_create(
        slug=workspace_slug, defaults={"name": workspace_slug.replace("-", " ").title()}
    )
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if created:
        user = user_model.objects.create_superuser(username=username, email="", password=password)
    workspace_add_member(workspace=workspace, user=user, role=Role.ADMIN)
    return workspace, created
