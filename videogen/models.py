"""videogen's tables. No HTTP and no workflow here: services own every write that matters.

Fields the app invents are named apart from those mirrored from the provider
(``provider_job_id``, ``provider_status``…); the provider's last raw JSON is kept whole in
``provider_response`` for debugging.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 18, "decimal_places": 8}


class AspectRatio(models.TextChoices):
    R16_9 = "16:9", "16:9"
    R9_16 = "9:16", "9:16"
    R1_1 = "1:1", "1:1"
    R4_3 = "4:3", "4:3"
    R3_4 = "3:4", "3:4"
    R3_2 = "3:2", "3:2"
    R2_3 = "2:3", "2:3"
    R21_9 = "21:9", "21:9"
    R9_21 = "9:21", "9:21"


class Resolution(models.TextChoices):
    P480 = "480p", "480p"
    P720 = "720p", "720p"
    P768 = "768p", "768p"
    P1080 = "1080p", "1080p"
    K1 = "1K", "1K"
    K2 = "2K", "2K"
    K4 = "4K", "4K"


class FrameType(models.TextChoices):
    FIRST = "first_frame", _("first frame")
    LAST = "last_frame", _("last frame")


class JobStatus(models.TextChoices):
    # Local states, before the provider knows the job.
    QUEUED = "queued", _("queued")
    SUBMITTING = "submitting", _("submitting")
    # The POST may have reached the provider but its answer was lost (read timeout, reset,
    # a body that does not parse…). Never re-sent by the machine: the provider's callback
    # binds it (see ``callback_ref``), else staff mark it abandoned or resubmit it.
    UNKNOWN = "unknown", _("outcome unknown")
    # The provider's states.
    PENDING = "pending", _("pending")
    IN_PROGRESS = "in_progress", _("in progress")
    COMPLETED = "completed", _("completed")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("expired")

    @classmethod
    def terminal(cls) -> frozenset[str]:
        return frozenset({cls.COMPLETED, cls.FAILED, cls.CANCELLED, cls.EXPIRED})

    @classmethod
    def in_flight(cls) -> frozenset[str]:
        """At the provider and not finished: the reconciler polls these."""
        return frozenset({cls.PENDING, cls.IN_PROGRESS})

    @classmethod
    def may_bill(cls) -> frozenset[str]:
        """Not finished, and the provider may be generating (and billing) it: the budget
        counts these at their estimate."""
        return frozenset({cls.QUEUED, cls.SUBMITTING, cls.UNKNOWN, *cls.in_flight()})

    @classmethod
    def pollable(cls) -> frozenset[str]:
        """Statuses the reconciler may poll: in flight, plus terminal jobs that still wait for
        the provider's word (a late cost, or a job the site gave up on)."""
        return cls.in_flight() | cls.terminal()

    @classmethod
    def rank(cls, status: str) -> int:
        """Order of the lifecycle; a job's rank never decreases and terminal (5) is final."""
        return _STATUS_RANK[status]


_STATUS_RANK = {
    JobStatus.QUEUED: 0,
    JobStatus.SUBMITTING: 1,
    JobStatus.UNKNOWN: 2,
    JobStatus.PENDING: 3,
    JobStatus.IN_PROGRESS: 4,
    JobStatus.COMPLETED: 5,
    JobStatus.FAILED: 5,
    JobStatus.CANCELLED: 5,
    JobStatus.EXPIRED: 5,
}


class EventSource(models.TextChoices):
    API = "api", _("API")
    WEB = "web", _("web page")
    SUBMIT = "submit", _("submission")
    POLL = "poll", _("poll")
    WEBHOOK = "webhook", _("webhook")
    ADMIN = "admin", _("admin")
    SWEEP = "sweep", _("recovery sweep")
    COMMAND = "command", _("management command")


class Role(models.TextChoices):
    VIEWER = "viewer", _("viewer")
    MEMBER = "member", _("member")
    ADMIN = "admin", _("admin")


class BudgetPolicy(models.TextChoices):
    BLOCK = "block", _("block submissions over budget")
    WARN = "warn", _("warn only")


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="WorkspaceMembership",
        related_name="videogen_workspaces",
        blank=True,
    )
    monthly_budget = models.DecimalField(
        **MONEY, null=True, blank=True, help_text=_("USD per calendar month; empty = no budget.")
    )
    budget_policy = models.CharField(
        max_length=10, choices=BudgetPolicy.choices, default=BudgetPolicy.BLOCK
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(monthly_budget__isnull=True) | Q(monthly_budget__gte=0),
                name="videogen_workspace_budget_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkspaceMembership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videogen_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="videogen_membership_unique_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class VideoModel(models.Model):
    """The provider's catalog (``GET /videos/models``), synced by a schedule."""

    model_id = models.CharField(max_length=200, unique=True, help_text=_("Provider model id."))
    canonical_slug = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    provider_created_at = models.DateTimeField(null=True, blank=True)
    supported_durations = models.JSONField(null=True, blank=True)
    supported_resolutions = models.JSONField(null=True, blank=True)
    supported_aspect_ratios = models.JSONField(null=True, blank=True)
    supported_sizes = models.JSONField(null=True, blank=True)
    supported_frame_images = models.JSONField(null=True, blank=True)
    generate_audio = models.BooleanField(null=True)
    seed = models.BooleanField(null=True, help_text=_("Supports deterministic seeds."))
    pricing_skus = models.JSONField(null=True, blank=True)
    allowed_passthrough_parameters = models.JSONField(default=list, blank=True)
    provider_response = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    is_active = models.BooleanField(
        default=True, help_text=_("False once the provider stops listing the model.")
    )
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return self.model_id


class VideoJob(models.Model):
    # --- identity and ownership (ours) ----------------------------------------------------
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="videogen_jobs",
    )
    source = models.CharField(
        max_length=16,
        choices=EventSource.choices,
        blank=True,
        help_text=_("Where the job was created (API, web page, command, admin resubmission)."),
    )
    # --- the request, as sent (VideoGenerationRequest) -----------------------------------
    model = models.CharField(max_length=200)
    prompt = models.TextField(blank=True)
    aspect_ratio = models.CharField(max_length=8, choices=AspectRatio.choices, blank=True)
    duration = models.PositiveIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=8, choices=Resolution.choices, blank=True)
    size = models.CharField(max_length=16, blank=True, help_text=_('"WIDTHxHEIGHT"'))
    seed = models.BigIntegerField(null=True, blank=True)
    generate_audio = models.BooleanField(null=True, blank=True)
    frame_images = models.JSONField(default=list, blank=True)
    input_references = models.JSONField(default=list, blank=True)
    provider = models.JSONField(
        null=True, blank=True, help_text=_("Provider passthrough: {options: {slug: {...}}}.")
    )
    callback_url = models.URLField(max_length=2000, blank=True)
    # Opaque and unguessable; sent as ``?ref=`` on the site's callback URL so a webhook for a
    # provider job the site never heard of (its POST's answer was lost) finds its job.
    callback_ref = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )
    resubmission_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resubmissions",
        help_text=_("The job whose unknown outcome staff resolved by sending this one."),
    )
    # --- the provider's mirror (VideoGenerationResponse) ---------------------------------
    provider_job_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    generation_id = models.CharField(max_length=200, blank=True)
    polling_url = models.CharField(max_length=2000, blank=True)
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    provider_status = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True, help_text=_("The provider's error message."))
    unsigned_urls = models.JSONField(default=list, blank=True)
    # The provider's last usage answer as it was sent (a snapshot, for debugging); what it
    # billed is stored once, in the job's ledger row (``usage_entry``): see ``cost``.
    usage = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    provider_response = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # --- bookkeeping (ours) ---------------------------------------------------------------
    estimated_cost = models.DecimalField(**MONEY, null=True, blank=True, help_text=_("USD"))
    failure_reason = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Machine-readable cause: why the job failed, or why its outcome is unknown."),
    )
    locally_closed = models.BooleanField(
        default=False,
        help_text=_(
            "The site ended this job on its own (deadline, not found, abandoned). The "
            "provider's final word still applies: a later completion is recorded and billed."
        ),
    )
    last_error = models.TextField(blank=True, help_text=_("Last transient error seen."))
    needs_attention = models.BooleanField(
        default=False, help_text=_("Staff must look at this job (e.g. submission outcome unknown).")
    )
    submit_attempts = models.PositiveIntegerField(default=0)
    poll_attempts = models.PositiveIntegerField(default=0)
    not_found_count = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text=_("A sweep holds this job until then.")
    )
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    # Bumped by every lifecycle write: the compare-and-set that makes racing writers safe.
    version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_poll_at"], name="videogen_job_due_idx"),
            # A workspace's jobs in the API's and the pages' orders (either direction: an index
            # is walked backwards as well), whole or by status; the id breaks ties.
            models.Index(
                fields=["workspace", "-created_at", "-id"], name="videogen_job_ws_created_id_idx"
            ),
            models.Index(
                fields=["workspace", "-updated_at", "-id"], name="videogen_job_ws_updated_idx"
            ),
            models.Index(
                fields=["workspace", "status", "-created_at", "-id"],
                name="videogen_job_ws_st_created_idx",
            ),
            # A member of several workspaces listing by updated_at: PostgreSQL cannot merge
            # the per-workspace index walks of an IN list, so it walks this one and skips
            # other workspaces' rows (without it: a sort of every row, 2.5 s at 1M jobs).
            models.Index(fields=["updated_at", "id"], name="videogen_job_updated_idx"),
            # Recently finished jobs: the sweep's search for outputs never fetched.
            models.Index(fields=["status", "finished_at"], name="videogen_job_finished_idx"),
            # The admin's job list: newest first, whole or by status, and what needs staff.
            models.Index(fields=["created_at", "id"], name="videogen_job_created_idx"),
            models.Index(fields=["status", "created_at", "id"], name="videogen_job_st_created_idx"),
            models.Index(
                fields=["created_at", "id"],
                condition=Q(needs_attention=True),
                name="videogen_job_attention_idx",
            ),
            # The admin's search by the provider's generation id (provider_job_id is unique).
            models.Index(fields=["generation_id"], name="videogen_job_generation_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="videogen_job_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(duration__isnull=True) | Q(duration__gte=1),
                name="videogen_job_duration_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.public_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in JobStatus.terminal()

    @property
    def cost(self) -> Decimal | None:
        """What the provider billed, in USD: the job's ledger row, the one place a cost is
        stored (``None`` until the provider reports it). Join ``usage_entry`` when listing."""
        entry = self._ledger_entry()
        return entry.cost if entry is not None else None

    @property
    def is_byok(self) -> bool:
        entry = self._ledger_entry()
        return entry.is_byok if entry is not None else False

    def _ledger_entry(self) -> UsageEntry | None:
        try:
            return self.usage_entry
        except ObjectDoesNotExist:
            return None

    def request_payload(self) -> dict:
        """The ``VideoGenerationRequest`` body for this job, without empty fields."""
        payload: dict = {"model": self.model}
        for name in ("prompt", "aspect_ratio", "resolution", "size", "callback_url"):
            if getattr(self, name):
                payload[name] = getattr(self, name)
        for name in ("duration", "seed", "generate_audio", "provider"):
            if getattr(self, name) is not None:
                payload[name] = getattr(self, name)
        for name in ("frame_images", "input_references"):
            if getattr(self, name):
                payload[name] = getattr(self, name)
        return payload


class JobEvent(models.Model):
    """One status transition of a job (or a noteworthy non-transition, e.g. a cost update)."""

    job = models.ForeignKey(VideoJob, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=JobStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=JobStatus.choices)
    source = models.CharField(max_length=16, choices=EventSource.choices)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["job", "created_at"], name="videogen_event_job_idx"),
            # The admin's list of events, newest first.
            models.Index(fields=["created_at", "id"], name="videogen_event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status} ({self.source})"


class UsageEntry(models.Model):
    """The cost ledger: one row per job that reported usage, written by the lifecycle."""

    job = models.OneToOneField(VideoJob, on_delete=models.PROTECT, related_name="usage_entry")
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="usage_entries")
    model = models.CharField(max_length=200)
    cost = models.DecimalField(**MONEY, null=True, blank=True, help_text=_("USD; null until known"))
    is_byok = models.BooleanField(default=False)
    duration = models.PositiveIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=8, blank=True)
    completed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-completed_at"]
        verbose_name_plural = "usage entries"
        indexes = [
            # The admin's ledger list (newest first) and this month's spend on its index page.
            models.Index(fields=["completed_at", "id"], name="videogen_usage_done_idx"),
            models.Index(fields=["workspace", "completed_at"], name="videogen_usage_ws_time_idx"),
            models.Index(
                fields=["workspace", "model", "completed_at"], name="videogen_usage_ws_model_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0),
                name="videogen_usage_cost_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace} {self.model} {self.cost}"


def _output_storage():
    # Resolved lazily so the storage alias is read from settings at run time, not import.
    from django.core.files.storage import storages

    from videogen.conf import videogen_settings

    return storages[videogen_settings.OUTPUT_STORAGE]


def _output_path(instance: VideoOutput, filename: str) -> str:
    from videogen.conf import videogen_settings

    job = instance.job
    return (
        f"{videogen_settings.OUTPUT_PATH_PREFIX}/{job.workspace.slug}/"
        f"{job.created_at:%Y/%m}/{job.public_id}/{filename}"
    )


class OutputStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be fetched")
    # Claimed by a fetcher until next_attempt_at; after that the claim is free again.
    FETCHING = "fetching", _("being fetched")
    STORED = "stored", _("stored")
    FAILED = "failed", _("failed (will retry)")
    GAVE_UP = "gave_up", _("gave up")
    DELETED = "deleted", _("deleted by retention")


class VideoOutput(models.Model):
    """One generated video of a job, kept in the site's storage (``unsigned_urls[index]``)."""

    job = models.ForeignKey(VideoJob, on_delete=models.CASCADE, related_name="outputs")
    index = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=OutputStatus.choices, default=OutputStatus.PENDING
    )
    file = models.FileField(
        storage=_output_storage, upload_to=_output_path, max_length=500, blank=True
    )
    size_bytes = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="videogen_output_unique_index"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="videogen_output_due_idx"),
            models.Index(fields=["status", "stored_at"], name="videogen_output_stored_idx"),
        ]

    def __str__(self) -> str:
        return f"output {self.index} of {self.job.public_id} ({self.status})"


class WebhookOutcome(models.TextChoices):
    RECEIVED = "received", _("received")
    PROCESSED = "processed", _("processed")
    DUPLICATE = "duplicate", _("duplicate")
    UNKNOWN_JOB = "unknown_job", _("unknown job")
    IGNORED = "ignored", _("ignored (event type not handled)")
    REJECTED = "rejected", _("rejected")
    # Signed, but the event cannot be applied (hostile text, too deep, a field too long…):
    # stored as an excerpt with the reason and acknowledged; the poller finishes the job.
    UNPROCESSABLE = "unprocessable", _("unprocessable (signed, not applied)")
    ERROR = "error", _("error")


class WebhookDelivery(models.Model):
    """Every webhook request that reached the receiver, stored before it is processed."""

    idempotency_key = models.CharField(max_length=300, unique=True, null=True, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    provider_job_id = models.CharField(max_length=200, blank=True, db_index=True)
    job = models.ForeignKey(
        VideoJob,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    idempotency_header_mismatch = models.BooleanField(
        default=False,
        help_text=_("The idempotency key header disagreed with the signed body and was ignored."),
    )
    callback_ref = models.CharField(
        max_length=128,
        blank=True,
        help_text=_("The ?ref= of the callback URL the provider called (the site's job token)."),
    )
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(
        blank=True,
        help_text=_(
            "The raw body of an accepted delivery; for a refused or unprocessable one only an "
            "escaped excerpt."
        ),
    )
    signature_valid = models.BooleanField(null=True)
    outcome = models.CharField(
        max_length=16, choices=WebhookOutcome.choices, default=WebhookOutcome.RECEIVED
    )
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type or 'webhook'} {self.idempotency_key or self.pk}"
