"""Small object builders for tests (no factory library needed)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from videogen.models import Role, UsageEntry, VideoJob, Workspace, WorkspaceMembership

_seq = itertools.count(1)


def make_user(username: str | None = None, **extra):
    username = username or f"user{next(_seq)}"
    return get_user_model().objects.create_user(username=username, password="x", **extra)


def make_workspace(slug: str | None = None, **extra) -> Workspace:
    slug = slug or f"ws-{next(_seq)}"
    return Workspace.objects.create(name=slug.title(), slug=slug, **extra)


def make_member(workspace: Workspace, user=None, role: str = Role.MEMBER):
    user = user or make_user()
    WorkspaceMembership.objects.create(workspace=workspace, user=user, role=role)
    return user


_NO_COST = object()


def make_job(workspace: Workspace | None = None, *, cost=_NO_COST, **fields) -> VideoJob:
    """A job; ``cost=`` (a number or None) also writes its ledger row, where cost lives."""
    fields.setdefault("model", "google/veo-3.1")
    fields.setdefault("prompt", "A serene mountain landscape at sunset")
    is_byok = fields.pop("is_byok", False)
    job = VideoJob.objects.create(workspace=workspace or make_workspace(), **fields)
    if cost is not _NO_COST:
        make_ledger_entry(job, cost=cost, is_byok=is_byok)
    return job


def make_ledger_entry(job: VideoJob, *, cost, is_byok: bool = False, **fields) -> UsageEntry:
    fields.setdefault("completed_at", job.finished_at or timezone.now())
    return UsageEntry.objects.create(
        job=job,
        workspace_id=job.workspace_id,
        model=job.model,
        cost=None if cost is None else Decimal(str(cost)),
        is_byok=is_byok,
        duration=job.duration,
        resolution=job.resolution,
        **fields,
    )
