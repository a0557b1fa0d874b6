"""Small object builders for tests (no factory library needed)."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from videogen.models import Role, VideoJob, Workspace, WorkspaceMembership

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


def make_job(workspace: Workspace | None = None, **fields) -> VideoJob:
    fields.setdefault("model", "google/veo-3.1")
    fields.setdefault("prompt", "A serene mountain landscape at sunset")
    return VideoJob.objects.create(workspace=workspace or make_workspace(), **fields)
