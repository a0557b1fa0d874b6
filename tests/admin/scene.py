"""A small business in the database, as staff would find it: the simulator's catalog, a few
workspaces with budgets and members, jobs in every status over several weeks (their events,
ledger rows and webhook deliveries), two jobs needing attention, and a completed job with its
video stored. Written straight to the tables (no provider), so it is quick to build."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils import timezone

from tests.factories import make_ledger_entry, make_member, make_user, make_workspace
from videogen.models import (
    EventSource,
    JobEvent,
    JobStatus,
    OutputStatus,
    Role,
    VideoJob,
    VideoOutput,
    WebhookDelivery,
    WebhookOutcome,
)
from videogen.provider.types import VideoModelInfo
from videogen.services.catalog import catalog_sync
from videogen.simulator.catalog import Catalog

SAMPLE_VIDEO = Path(__file__).resolve().parents[2] / "videogen/simulator/assets/sample.mp4"
PROMPTS = [
    "A serene mountain landscape at sunset, slow drone shot over a misty valley",
    "A red fox trotting through fresh snow in a birch forest, shallow depth of field",
    "Timelapse of a busy city intersection at night with light trails",
    "Close-up of coffee being poured into a white cup, steam rising, morning light",
    "An astronaut walking on a dusty red planet, cinematic wide shot",
    "Waves crashing on black volcanic rocks, 120 fps slow motion",
    "A paper boat drifting down a rain-filled gutter, macro lens",
    "Product shot of a silver wristwatch rotating on a turntable",
]
RATES = {
    "google/veo-3.1": Decimal("0.40"),
    "openai/sora-2": Decimal("0.10"),
    "bytedance/seedance-1-pro": Decimal("0.15"),
    "kwaivgi/kling-2.1": Decimal("0.09"),
    "minimax/hailuo-02": Decimal("0.10"),
}


@dataclass
class Scene:
    staff: object
    viewer: object
    workspaces: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    completed_with_video: VideoJob | None = None
    unknown: VideoJob | None = None
    missing_cost: VideoJob | None = None


def view_permissions():
    """Every "view" permission of videogen's models (view-only staff)."""
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(
        content_type__app_label="videogen", codename__startswith="view_"
    )


def _user(username: str, **extra):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=username).first() or make_user(
        username, **extra
    )


def sync_catalog() -> None:
    catalog_sync(models=[VideoModelInfo.from_json(spec.to_json()) for spec in Catalog()])


def _job(workspace, *, status, created, model, rng, **extra) -> VideoJob:
    duration = rng.choice([4, 5, 8, 10])
    job = VideoJob.objects.create(
        workspace=workspace,
        model=model,
        prompt=rng.choice(PROMPTS),
        duration=duration,
        resolution=rng.choice(["720p", "1080p"]),
        aspect_ratio="16:9",
        source=rng.choice([EventSource.API, EventSource.API, EventSource.WEB]),
        status=status,
        estimated_cost=RATES.get(model, Decimal("0.10")) * duration,
        **extra,
    )
    # created_at is auto_now_add: set the history afterwards.
    finished = (
        created + timedelta(minutes=rng.randint(1, 6)) if status in JobStatus.terminal() else None
    )
    submitted = created + timedelta(seconds=2) if status not in (JobStatus.QUEUED,) else None
    VideoJob.objects.filter(pk=job.pk).update(
        created_at=created, submitted_at=submitted, finished_at=finished
    )
    job.refresh_from_db()
    path = [JobStatus.QUEUED]
    if status != JobStatus.QUEUED:
        path += [JobStatus.SUBMITTING, JobStatus.PENDING if status != JobStatus.UNKNOWN else status]
        if status in JobStatus.terminal() or status == JobStatus.IN_PROGRESS:
            path += [JobStatus.IN_PROGRESS] if status != JobStatus.IN_PROGRESS else [status]
        if status in JobStatus.terminal():
            path.append(status)
    previous = ""
    for i, to_status in enumerate(dict.fromkeys(path)):
        event = JobEvent.objects.create(
            job=job,
            from_status=previous,
            to_status=to_status,
            source=job.source if i == 0 else EventSource.SUBMIT if i == 1 else EventSource.POLL,
        )
        JobEvent.objects.filter(pk=event.pk).update(created_at=created + timedelta(seconds=i * 20))
        previous = to_status
    return job


def build(*, jobs: int = 120, seed: int = 7, days: int = 40, with_video: bool = True) -> Scene:
    """The scene; ``jobs`` spread over the last ``days`` days (a fixed seed: the same every
    time). Call it inside a test with database access."""
    rng = random.Random(seed)
    sync_catalog()
    staff = _user("staff", is_staff=True, is_superuser=True)
    viewer = _user("viewer", is_staff=True)
    viewer.user_permissions.set(view_permissions())
    scene = Scene(staff=staff, viewer=viewer)
    for slug, budget in [
        ("northwind-studio", Decimal("500")),
        ("acme-ads", Decimal("120")),
        ("blue-lake-films", None),
        ("pixel-foundry", Decimal("60")),
    ]:
        workspace = make_workspace(slug, monthly_budget=budget)
        make_member(workspace, role=Role.ADMIN)
        make_member(workspace, role=Role.MEMBER)
        scene.workspaces.append(workspace)
    now = timezone.now()
    models = list(RATES)
    statuses = (
        [JobStatus.COMPLETED] * 14
        + [JobStatus.FAILED] * 2
        + [JobStatus.CANCELLED, JobStatus.EXPIRED, JobStatus.PENDING, JobStatus.IN_PROGRESS]
    )
    for i in range(jobs):
        created = now - timedelta(days=days * (i + 1) / jobs, minutes=rng.randint(0, 600))
        status = rng.choice(statuses) if i > 3 else JobStatus.IN_PROGRESS if i else JobStatus.QUEUED
        workspace = rng.choices(scene.workspaces, weights=[5, 3, 2, 1])[0]
        model = rng.choice(models)
        provider_id = f"vid_{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
        extra = {}
        if status != JobStatus.QUEUED:
            extra = {"provider_job_id": provider_id, "generation_id": f"gen-{provider_id[4:16]}"}
        job = _job(workspace, status=status, created=created, model=model, rng=rng, **extra)
        if status == JobStatus.COMPLETED:
            make_ledger_entry(job, cost=job.estimated_cost)
            delivery = WebhookDelivery.objects.create(
                idempotency_key=f"{provider_id}-completed",
                event_type="video.generation.completed",
                provider_job_id=provider_id,
                job=job,
                signature_valid=True,
                outcome=WebhookOutcome.PROCESSED,
                processing_ms=rng.randint(3, 20),
            )
            WebhookDelivery.objects.filter(pk=delivery.pk).update(received_at=job.finished_at)
        if status == JobStatus.FAILED:
            VideoJob.objects.filter(pk=job.pk).update(
                error="The model refused the prompt (content policy).",
                failure_reason="provider_failed",
            )
        scene.jobs.append(job)

    unknown = _job(
        scene.workspaces[1],
        status=JobStatus.UNKNOWN,
        created=now - timedelta(hours=3),
        model="openai/sora-2",
        rng=rng,
        failure_reason="read_timeout",
        needs_attention=True,
        last_error="No callback from the provider within 3600 s of this job's uncertain "
        "submission.",
    )
    missing_cost = _job(
        scene.workspaces[0],
        status=JobStatus.COMPLETED,
        created=now - timedelta(days=2),
        model="google/veo-3.1",
        rng=rng,
        provider_job_id="vid_missing_cost_0001",
        generation_id="gen-missing-cost",
        needs_attention=True,
        last_error="The provider has not reported this job's cost within 86400 s.",
    )
    make_ledger_entry(missing_cost, cost=None)
    scene.unknown, scene.missing_cost = unknown, missing_cost
    scene.jobs += [unknown, missing_cost]

    if with_video:
        job = _job(
            scene.workspaces[0],
            status=JobStatus.COMPLETED,
            created=now - timedelta(minutes=40),
            model="google/veo-3.1",
            rng=rng,
            provider_job_id="vid_with_video_0001",
            generation_id="gen-with-video",
            unsigned_urls=["https://openrouter.example/api/v1/videos/vid_with_video_0001/content"],
        )
        VideoJob.objects.filter(pk=job.pk).update(
            prompt="A red fox trotting through fresh snow in a birch forest, golden hour",
            usage={"cost": "2.40", "is_byok": False},
        )
        job.refresh_from_db()
        make_ledger_entry(job, cost=Decimal("2.40"))
        output = VideoOutput.objects.create(job=job, index=0, status=OutputStatus.STORED)
        data = SAMPLE_VIDEO.read_bytes()
        output.file.save("output-0.mp4", ContentFile(data), save=False)
        VideoOutput.objects.filter(pk=output.pk).update(
            file=output.file.name,
            size_bytes=len(data),
            content_type="video/mp4",
            stored_at=timezone.now(),
        )
        scene.completed_with_video = job
        scene.jobs.append(job)
    return scene
