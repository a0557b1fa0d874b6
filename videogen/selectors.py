"""Reads, scoped to the person asking (the HackSoft styleguide's "selectors").

Every queryset the API serves starts from the caller's memberships: an object of a workspace
the caller does not belong to is simply not in it, so it answers 404, never 403. Each row
carries the caller's role in its workspace as ``caller_role``, which is what the API's role
checks read.
"""

from __future__ import annotations

from django.db.models import (
    Aggregate,
    Case,
    CharField,
    F,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONObject

from videogen.models import (
    OutputStatus,
    Role,
    VideoJob,
    VideoModel,
    VideoOutput,
    Workspace,
    WorkspaceMembership,
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


def workspace_roles_for_user(*, user) -> dict[int, str]:
    """The caller's role in each of their workspaces, by workspace id (one small query)."""
    if user is None or not user.is_authenticated:
        return {}
    return dict(
        WorkspaceMembership.objects.filter(user=user)
        .order_by("workspace_id")
        .values_list("workspace_id", "role")
    )


class JSONRows(Aggregate):
    """The aggregated rows' JSON values as one JSON array (no row: no array, NULL)."""

    function = "JSON_GROUP_ARRAY"  # SQLite
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_AGG", **extra_context)

    def as_mysql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSON_ARRAYAGG", **extra_context)

    as_oracle = as_mysql


def _stored_outputs_of_each_job() -> Subquery:
    """A job's stored outputs as a list of dicts (``None`` when it has none), computed inside
    the page's own query: a prefetch would be one more round trip per page."""
    return Subquery(
        VideoOutput.objects.filter(job=OuterRef("pk"), status=OutputStatus.STORED)
        .order_by()
        .values("job")
        .annotate(
            rows=JSONRows(
                JSONObject(
                    index="index",
                    size_bytes="size_bytes",
                    content_type="content_type",
                    sha256="sha256",
                )
            )
        )
        .values("rows"),
        output_field=JSONField(),
    )


def jobs_for_user(*, user, roles: dict[int, str] | None = None) -> QuerySet[VideoJob]:
    """Jobs of every workspace ``user`` belongs to, ready for serialization.

    The caller's workspaces are resolved first (``roles``, from ``workspace_roles_for_user``;
    looked up when not given) and the jobs filtered by ``workspace_id``, never through a join
    on the memberships: that join kept PostgreSQL from walking the (workspace, created_at)
    index in order, so it sorted whole workspaces for a page of 25 (issue #15). The workspace,
    creator and ledger row (the job's cost) are joined and the stored outputs aggregated in
    the same query, so a page of jobs is one query whatever its size.
    """
    if roles is None:
        roles = workspace_roles_for_user(user=user)
    if not roles:
        return VideoJob.objects.none()
    if len(roles) == 1:
        ((workspace_id, role),) = roles.items()
        # Equality, not IN: the index then hands rows over already in order.
        jobs = VideoJob.objects.filter(workspace_id=workspace_id)
        caller_role = Value(role, output_field=CharField())
    else:
        jobs = VideoJob.objects.filter(workspace_id__in=sorted(roles))
        caller_role = Case(
            *(When(workspace_id=pk, then=Value(role)) for pk, role in sorted(roles.items())),
            output_field=CharField(),
        )
    return jobs.annotate(
        caller_role=caller_role, stored_outputs=_stored_outputs_of_each_job()
    ).select_related("workspace", "created_by", "usage_entry")


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
