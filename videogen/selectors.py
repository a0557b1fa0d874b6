"""Reads, scoped to the person asking (the HackSoft styleguide's "selectors").

Every queryset the API serves starts from the caller's memberships: an object of a workspace
the caller does not belong to is simply not in it, so it answers 404, never 403. Each row
carries the caller's role in its workspace as ``caller_role`` (one join, no extra query), which
is what the API's role checks read.
"""

from __future__ import annotations

from django.db.models import F, Prefetch, QuerySet

from videogen.models import (
    OutputStatus,
    Role,
    VideoJob,
    VideoModel,
    VideoOutput,
    Workspace,
)

# Roles allowed to create jobs and act on them; viewers only read.
WRITER_ROLES = frozenset({Role.MEMBER, Role.ADMIN})


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    """The workspaces ``user`` belongs to, each annotated with ``caller_role``."""
    if user is None or not user.is_authenticated:
        return Workspace.objects.none()
    return (
        Workspace.objects.filter(memberships__user=user)
        .annotate(caller_role=F("memberships__role"))
        .order_by("name", "pk")
    )


def workspace_for_user(*, user, slug: str) -> Workspace | None:
    """One of the caller's workspaces by slug (with ``caller_role``), or ``None``."""
    return workspaces_for_user(user=user).filter(slug=slug).first()


def jobs_for_user(*, user) -> QuerySet[VideoJob]:
    """Jobs of every workspace ``user`` belongs to, ready for serialization.

    The workspace, creator and ledger row (the job's cost) are joined and stored outputs
    prefetched, so a page of jobs
    costs the same number of queries whatever its size.
    """
    if user is None or not user.is_authenticated:
        return VideoJob.objects.none()
    return (
        VideoJob.objects.filter(workspace__memberships__user=user)
        .annotate(caller_role=F("workspace__memberships__role"))
        .select_related("workspace", "created_by", "usage_entry")
        .prefetch_related(
            Prefetch(
                "outputs",
                queryset=VideoOutput.objects.filter(status=OutputStatus.STORED).order_by("index"),
                to_attr="stored_outputs",
            )
        )
    )


# The request's media and the provider's raw answers: large, and no list shows them.
_LIST_DEFERRED = ("provider_response", "usage", "unsigned_urls", "frame_images", "input_references")


def jobs_of_workspace(*, workspace: Workspace) -> QuerySet[VideoJob]:
    """A workspace's jobs for its job list, with their ledger row (the cost). ``workspace``
    must come from ``workspace_for_user``: that lookup is the membership check."""
    return (
        VideoJob.objects.filter(workspace=workspace)
        .select_related("usage_entry")
        .defer(*_LIST_DEFERRED)
    )


def video_models_active() -> QuerySet[VideoModel]:
    """The catalog as the provider lists it now."""
    return VideoModel.objects.filter(is_active=True).order_by("model_id")


def job_output_stored(*, job: VideoJob, index: int) -> VideoOutput | None:
    """The job's output ``index`` if it is kept in the site's storage."""
    return (
        VideoOutput.objects.filter(job=job, index=index, status=OutputStatus.STORED)
        .exclude(file="")
        .first()
    )
