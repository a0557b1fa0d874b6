"""Representations of the API's resources, and the documented shapes of its inputs.

Job requests are validated by the lifecycle service (``services.validation``), not here: the
request serializers below describe the body for the schema and the browsable API; the views
hand the body to the service, whose field errors (and codes) are what clients get back.
"""

from __future__ import annotations

import zoneinfo

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from videogen.models import (
    AspectRatio,
    BudgetPolicy,
    FrameType,
    JobStatus,
    Resolution,
    Role,
    VideoJob,
    VideoModel,
    Workspace,
)
from videogen.services.jobs.media import media_describe
from videogen.services.jobs.request import (
    MAX_FRAME_IMAGES,
    MAX_INPUT_REFERENCES,
    MAX_PROMPT_CHARS,
    REFERENCE_KINDS,
    REQUEST_FIELDS,
)
from videogen.services.money.budgets import workspace_month_spend
from videogen.services.money.reports import REPORT_MAX_DATE, REPORT_MIN_DATE, month_range

# --- errors (for the schema; see videogen.api.exceptions) ------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A message for people.")
    code = serializers.CharField(help_text="A stable code for programs.")


class FieldErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(
        child=FieldErrorSerializer(many=True),
        help_text="Field name (or non_field_errors) → its errors.",
    )


class BudgetErrorSerializer(ErrorSerializer):
    currency = serializers.CharField()
    budget = serializers.DecimalField(max_digits=18, decimal_places=8, allow_null=True)
    spent = serializers.DecimalField(max_digits=18, decimal_places=8)
    in_flight = serializers.DecimalField(max_digits=18, decimal_places=8)
    estimate = serializers.DecimalField(max_digits=18, decimal_places=8)
    projected = serializers.DecimalField(max_digits=18, decimal_places=8)


# --- small fields ----------------------------------------------------------------------------


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice column stored as "" when omitted, shown as ``null``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class BlankAsNullCharField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


@extend_schema_field(OpenApiTypes.OBJECT)
class ObjectField(serializers.JSONField):
    """A JSON object (documented as such)."""


# --- jobs ------------------------------------------------------------------------------------


class MediaURLSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="An https:// URL, or a base64 data: URL.")


class FrameImageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["image_url"])
    image_url = MediaURLSerializer()
    frame_type = serializers.ChoiceField(choices=FrameType.choices)


class InputReferenceSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=list(REFERENCE_KINDS), help_text="Names the one URL object the part carries."
    )
    image_url = MediaURLSerializer(required=False)
    audio_url = MediaURLSerializer(required=False)
    video_url = MediaURLSerializer(required=False)


class MediaShownSerializer(serializers.Serializer):
    """A media part of a job as the API shows it: ``data:`` media are never sent back."""

    url = serializers.CharField(
        allow_null=True,
        help_text="The https:// URL given; null for a data: URL (the site keeps its bytes).",
    )
    media_type = serializers.CharField(allow_null=True, help_text="Of a data: URL's media.")
    size_bytes = serializers.IntegerField(allow_null=True, help_text="Of a data: URL's media.")
    sha256 = serializers.CharField(allow_null=True, help_text="Of a stored data: URL's media.")

    def to_representation(self, instance):
        return super().to_representation(media_describe(instance))


class FrameImageShownSerializer(FrameImageSerializer):
    image_url = MediaShownSerializer()


class InputReferenceShownSerializer(InputReferenceSerializer):
    image_url = MediaShownSerializer(required=False)
    audio_url = MediaShownSerializer(required=False)
    video_url = MediaShownSerializer(required=False)


class GenerationSerializer(serializers.Serializer):
    """A ``VideoGenerationRequest`` (what the provider is sent)."""

    model = serializers.CharField(help_text="A model id from the catalog (GET models/).")
    prompt = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_PROMPT_CHARS,
        help_text="Required unless a frame image stands in for it.",
    )
    aspect_ratio = serializers.ChoiceField(
        choices=AspectRatio.choices, required=False, allow_null=True
    )
    duration = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Seconds."
    )
    resolution = serializers.ChoiceField(
        choices=Resolution.choices, required=False, allow_null=True
    )
    size = serializers.RegexField(
        r"^[0-9]{2,5}x[0-9]{2,5}$",
        required=False,
        allow_null=True,
        help_text='"WIDTHxHEIGHT"; instead of resolution + aspect_ratio.',
    )
    seed = serializers.IntegerField(
        required=False, allow_null=True, min_value=-(2**63), max_value=2**63 - 1
    )
    generate_audio = serializers.BooleanField(required=False, allow_null=True)
    frame_images = FrameImageSerializer(
        many=True, required=False, allow_null=True, max_length=MAX_FRAME_IMAGES
    )
    input_references = InputReferenceSerializer(
        many=True, required=False, allow_null=True, max_length=MAX_INPUT_REFERENCES
    )
    provider = ObjectField(
        required=False,
        allow_null=True,
        help_text='Passthrough: {"options": {"<provider slug>": {"parameters": {…}}}}.',
    )
    callback_url = serializers.URLField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="HTTPS; not a private or loopback address.",
    )


class JobCreateSerializer(GenerationSerializer):
    workspace = serializers.SlugField(
        help_text="Slug of a workspace where you are a member or admin."
    )


class JobOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    url = serializers.URLField(help_text="GET it for the video bytes.")
    stored = serializers.BooleanField(help_text="Kept in the site's storage.")
    size_bytes = serializers.IntegerField(allow_null=True)
    content_type = serializers.CharField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)


class JobSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    url = serializers.HyperlinkedIdentityField(
        view_name="videogen:api:job-detail", lookup_field="public_id", lookup_url_kwarg="id"
    )
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SerializerMethodField()
    prompt = serializers.CharField(read_only=True)
    aspect_ratio = BlankAsNullChoiceField(choices=AspectRatio.choices)
    resolution = BlankAsNullChoiceField(choices=Resolution.choices)
    size = BlankAsNullCharField()
    frame_images = FrameImageShownSerializer(many=True, read_only=True)
    input_references = InputReferenceShownSerializer(many=True, read_only=True)
    provider = ObjectField(read_only=True, allow_null=True)
    callback_url = BlankAsNullCharField()
    status = serializers.ChoiceField(choices=JobStatus.choices, read_only=True)
    error = BlankAsNullCharField(help_text="The provider's error message, when failed.")
    failure_reason = BlankAsNullCharField(help_text="A machine-readable cause, when failed.")
    outputs = serializers.SerializerMethodField()
    cost = serializers.DecimalField(
        max_digits=18,
        decimal_places=8,
        read_only=True,
        allow_null=True,
        help_text="USD the provider billed (the job's ledger row); null until it reports it.",
    )
    is_byok = serializers.BooleanField(read_only=True)

    class Meta:
        model = VideoJob
        fields = [
            "id",
            "url",
            "workspace",
            "created_by",
            *REQUEST_FIELDS,
            "status",
            "provider_job_id",
            "error",
            "failure_reason",
            "estimated_cost",
            "cost",
            "is_byok",
            "outputs",
            "created_at",
            "updated_at",
            "submitted_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, job: VideoJob) -> str | None:
        return job.created_by.get_username() if job.created_by is not None else None

    @extend_schema_field(JobOutputSerializer(many=True))
    def get_outputs(self, job: VideoJob) -> list[dict]:
        if job.status != JobStatus.COMPLETED:
            return []
        stored = getattr(job, "stored_outputs", None)
        if stored is None:  # not fetched through the selector
            stored = list(job.outputs.filter(status="stored").order_by("index"))
        by_index = {output.index: output for output in stored}
        count = max([len(job.unsigned_urls or []), 1, *(i + 1 for i in by_index)])
        request = self.context.get("request")
        base = reverse("videogen:api:job-content", kwargs={"id": job.public_id})
        if request is not None:
            base = request.build_absolute_uri(base)
        result = []
        for index in range(count):
            output = by_index.get(index)
            result.append(
                {
                    "index": index,
                    "url": f"{base}?index={index}",
                    "stored": output is not None,
                    "size_bytes": output.size_bytes if output else None,
                    "content_type": (output.content_type or None) if output else None,
                    "sha256": (output.sha256 or None) if output else None,
                }
            )
        return result


class EstimateSerializer(serializers.Serializer):
    model = serializers.CharField()
    estimated_cost = serializers.DecimalField(
        max_digits=18, decimal_places=8, allow_null=True, help_text="USD; null when unknown."
    )
    currency = serializers.CharField()
    reason = serializers.CharField(help_text="How it was computed, or why there is none.")


class ContentQuerySerializer(serializers.Serializer):
    index = serializers.IntegerField(
        min_value=0, max_value=32767, default=0, help_text="Which output of the job (0-based)."
    )


# --- catalog ---------------------------------------------------------------------------------


class VideoModelSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="model_id", read_only=True)
    supported_durations = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, read_only=True
    )
    supported_resolutions = serializers.ListField(
        child=serializers.CharField(), allow_null=True, read_only=True
    )
    supported_aspect_ratios = serializers.ListField(
        child=serializers.CharField(), allow_null=True, read_only=True
    )
    supported_sizes = serializers.ListField(
        child=serializers.CharField(), allow_null=True, read_only=True
    )
    supported_frame_images = serializers.ListField(
        child=serializers.CharField(), allow_null=True, read_only=True
    )
    pricing_skus = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        read_only=True,
        help_text="SKU name → USD price, as the provider publishes them.",
    )
    allowed_passthrough_parameters = serializers.ListField(
        child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = VideoModel
        fields = [
            "id",
            "canonical_slug",
            "name",
            "description",
            "supported_durations",
            "supported_resolutions",
            "supported_aspect_ratios",
            "supported_sizes",
            "supported_frame_images",
            "generate_audio",
            "seed",
            "pricing_skus",
            "allowed_passthrough_parameters",
            "synced_at",
        ]
        read_only_fields = fields


# --- workspaces and reports ------------------------------------------------------------------


class BudgetSerializer(serializers.Serializer):
    monthly_budget = serializers.DecimalField(
        max_digits=18, decimal_places=8, allow_null=True, help_text="USD; null = no budget."
    )
    policy = serializers.ChoiceField(choices=BudgetPolicy.choices)
    spent_this_month = serializers.DecimalField(max_digits=18, decimal_places=8)
    in_flight = serializers.DecimalField(
        max_digits=18, decimal_places=8, help_text="Estimates of jobs whose cost is not known yet."
    )


class WorkspaceSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        source="caller_role", choices=Role.choices, read_only=True, help_text="Your role."
    )
    budget = serializers.SerializerMethodField(help_text="Shown to admins only (else null).")

    class Meta:
        model = Workspace
        fields = ["slug", "name", "role", "budget", "created_at"]
        read_only_fields = fields

    @extend_schema_field(BudgetSerializer(allow_null=True))
    def get_budget(self, workspace: Workspace) -> dict | None:
        if getattr(workspace, "caller_role", None) != Role.ADMIN:
            return None
        spent, in_flight = workspace_month_spend(workspace_id=workspace.pk)
        return BudgetSerializer(
            {
                "monthly_budget": workspace.monthly_budget,
                "policy": workspace.budget_policy,
                "spent_this_month": spent,
                "in_flight": in_flight,
            }
        ).data


REPORT_DIMENSIONS = ("model", "day", "month")


class UsageQuerySerializer(serializers.Serializer):
    group_by = serializers.RegexField(
        r"^(model|day|month)(,(model|day|month))*$",
        default="model",
        help_text="Comma-separated dimensions: model, day, month (not day and month together).",
    )
    start = serializers.DateField(
        required=False, help_text="First day (inclusive); with end. Default: this month."
    )
    end = serializers.DateField(
        required=False, help_text="Last day (inclusive); defaults to today when start is given."
    )
    month = serializers.RegexField(
        r"^[0-9]{4}-[0-9]{2}$", required=False, help_text="YYYY-MM, instead of start/end."
    )
    tz = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA time zone for day boundaries (default: the site's).",
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"], default="json", help_text="json, or csv (also by Accept)."
    )

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        dimensions = tuple(dict.fromkeys(value.split(",")))
        if "day" in dimensions and "month" in dimensions:
            raise serializers.ValidationError(
                _("Group by day or by month, not both."), code="conflict"
            )
        return dimensions

    def validate_tz(self, value: str) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise serializers.ValidationError(
                _("Unknown time zone “%(tz)s”; use an IANA name such as Europe/Paris.")
                % {"tz": value},
                code="invalid_time_zone",
            ) from None

    def validate_month(self, value: str) -> tuple[int, int]:
        year, month = (int(part) for part in value.split("-"))
        if not (1 <= month <= 12 and REPORT_MIN_DATE.year <= year <= REPORT_MAX_DATE.year):
            raise serializers.ValidationError(_("Not a month: %s.") % value, code="invalid")
        return year, month

    def validate(self, attrs: dict) -> dict:
        tz = attrs.get("tz") or timezone.get_current_timezone()
        start, end, month = attrs.get("start"), attrs.get("end"), attrs.get("month")
        if month is not None and (start is not None or end is not None):
            raise serializers.ValidationError(
                {"month": [_("Give month, or start and end, not both.")]}, code="conflict"
            )
        if end is not None and start is None:
            raise serializers.ValidationError(
                {"start": [_("Give start together with end.")]}, code="required"
            )
        today = timezone.localtime(timezone.now(), tz).date()
        if month is not None:
            start, end = month_range(*month)
        elif start is None:
            start, end = month_range(today.year, today.month)
        elif end is None:
            end = max(today, start)
        errors = {}
        for name, value in (("start", start), ("end", end)):
            if not REPORT_MIN_DATE <= value <= REPORT_MAX_DATE:
                errors[name] = [
                    _("Dates must be between %(min)s and %(max)s.")
                    % {"min": REPORT_MIN_DATE, "max": REPORT_MAX_DATE}
                ]
        if not errors and end < start:
            errors["end"] = [_("The range ends before it starts.")]
        if errors:
            raise serializers.ValidationError(errors, code="invalid")
        return {**attrs, "start": start, "end": end, "tz": tz}


class UsageRowSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, help_text="When grouped by model.")
    day = serializers.DateField(required=False, help_text="When grouped by day.")
    month = serializers.RegexField(
        r"^[0-9]{4}-[0-9]{2}$", required=False, help_text="YYYY-MM, when grouped by month."
    )
    jobs = serializers.IntegerField()
    priced_jobs = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=8)
    seconds = serializers.IntegerField()
    average_cost = serializers.DecimalField(max_digits=18, decimal_places=8, allow_null=True)
    cost_per_second = serializers.DecimalField(max_digits=18, decimal_places=8, allow_null=True)


class UsageTotalSerializer(UsageRowSerializer):
    model = None
    day = None
    month = None


class UsageReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    currency = serializers.CharField()
    group_by = serializers.ListField(child=serializers.ChoiceField(choices=REPORT_DIMENSIONS))
    rows = UsageRowSerializer(many=True)
    total = UsageTotalSerializer()
