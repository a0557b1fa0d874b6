"""Representations of the API's resources, and the shapes of its inputs.

The job request serializers (``GenerationSerializer``, ``JobCreateSerializer``) are derived
from the one request schema (``services.jobs.request.REQUEST_SCHEMA``): each field documents
its type, enum and limits from it, and validation is the schema's own
(``validate_job_request``), so clients get its field errors and codes, every problem at once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.relations import PKOnlyObject

from videogen import hygiene
from videogen.api.exceptions import validation_error_from_django
from videogen.models import (
    AspectRatio,
    BudgetPolicy,
    JobStatus,
    OutputStatus,
    Resolution,
    Role,
    VideoJob,
    VideoModel,
    Workspace,
)
from videogen.selectors import workspace_for_user
from videogen.services.jobs import request as schema
from videogen.services.jobs.media import media_describe
from videogen.services.jobs.request import REQUEST_FIELDS, REQUEST_SCHEMA, validate_job_request
from videogen.services.money import report_parameters as report
from videogen.services.money.budgets import workspace_month_spend

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


class BlankAsNull:
    """A read-only text column stored as "" when omitted, shown as ``null``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class BlankAsNullChoiceField(BlankAsNull, serializers.ChoiceField):
    pass


class BlankAsNullCharField(BlankAsNull, serializers.CharField):
    pass


@extend_schema_field(OpenApiTypes.OBJECT)
class ObjectField(serializers.JSONField):
    """A JSON object (documented as such)."""


# --- jobs ------------------------------------------------------------------------------------


SLUG_MAX_LENGTH = Workspace._meta.get_field("slug").max_length
FRAME_IMAGES = schema.FIELDS_BY_NAME["frame_images"]
INPUT_REFERENCES = schema.FIELDS_BY_NAME["input_references"]


class MediaURLSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="An https:// URL, or a base64 data: URL.")


class FrameImageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=list(FRAME_IMAGES.part_types))
    image_url = MediaURLSerializer()
    frame_type = serializers.ChoiceField(choices=FRAME_IMAGES.choices_enum.choices)


class InputReferenceSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=list(INPUT_REFERENCES.part_types),
        help_text="Names the one URL object the part carries.",
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


PART_SERIALIZERS = {
    FRAME_IMAGES.name: FrameImageSerializer,
    INPUT_REFERENCES.name: InputReferenceSerializer,
}


def request_serializer_field(field: schema.RequestField) -> serializers.Field:
    """The DRF field that documents one request field: its type, enum and limits, from the
    schema. Every field but ``model`` may be omitted or null."""
    optional = {"required": False, "allow_null": True, "help_text": field.help_text or None}
    match field:
        case schema.ModelField():
            return serializers.CharField(max_length=field.max_length, help_text=field.help_text)
        case schema.CallbackURLField():
            return serializers.URLField(allow_blank=True, max_length=field.max_length, **optional)
        case schema.TextField():
            return serializers.CharField(allow_blank=True, max_length=field.max_length, **optional)
        case schema.ChoiceField():
            return serializers.ChoiceField(choices=field.choices_enum.choices, **optional)
        case schema.IntegerField():
            return serializers.IntegerField(
                min_value=field.min_value, max_value=field.max_value, **optional
            )
        case schema.BooleanField():
            return serializers.BooleanField(**optional)
        case schema.SizeField():
            return serializers.RegexField(rf"^{field.pattern}$", **optional)
        case schema.PartsField():
            return serializers.ListField(
                child=PART_SERIALIZERS[field.name](), max_length=field.max_items, **optional
            )
        case schema.PassthroughField():
            return ObjectField(**optional)
    raise TypeError(f"no API field for {type(field).__name__}")  # a new kind in the schema


class RequestSerializer(serializers.Serializer):
    """A job request. Its fields come from the request schema; ``is_valid`` runs the
    schema's ``validate_job_request`` on the body as sent (strict JSON types: ``"8"`` is not
    a duration), and ``validated_data`` is its ``JobRequest``."""

    def get_fields(self):
        return {
            **{field.name: request_serializer_field(field) for field in REQUEST_SCHEMA},
            **super().get_fields(),
        }

    def run_validation(self, data=empty):
        try:
            return validate_job_request({} if data is empty else data)
        except DjangoValidationError as err:
            raise validation_error_from_django(err) from None


class GenerationSerializer(RequestSerializer):
    """A ``VideoGenerationRequest`` (what the provider is sent)."""


class JobCreateSerializer(GenerationSerializer):
    """A ``VideoGenerationRequest`` (what the provider is sent) and the job's workspace."""

    # named_workspace() is the caller's (context["request"].user) workspace the body names,
    # looked up before validation so that a role too low is refused (403) before the body is
    # judged. One that does not exist and one of somebody else's answer alike: a field error
    # that is_valid reports together with the request's own.
    workspace = serializers.SlugField(
        help_text="Slug of a workspace where you are a member or admin."
    )

    def named_workspace(self) -> Workspace | None:
        if not hasattr(self, "_workspace"):
            self._workspace, self._workspace_problem = self._find_workspace()
        return self._workspace

    def _find_workspace(self) -> tuple[Workspace | None, serializers.ErrorDetail | None]:
        data = self.initial_data
        slug = data.get("workspace") if isinstance(data, Mapping) else None
        if slug is None or slug == "":
            return None, serializers.ErrorDetail(
                _("Name the workspace (its slug)."), code="required"
            )
        if not isinstance(slug, str):
            return None, serializers.ErrorDetail(
                _("workspace must be a slug string."), code="invalid_type"
            )
        hostile = hygiene.text_problem(slug, multiline=False, max_length=SLUG_MAX_LENGTH)
        if hostile:
            return None, serializers.ErrorDetail(hostile.message, code=hostile.code)
        workspace = workspace_for_user(user=self.context["request"].user, slug=slug)
        if workspace is None:
            return None, serializers.ErrorDetail(
                _("You have no workspace “%(slug)s”.") % {"slug": slug}, code="does_not_exist"
            )
        return workspace, None

    def run_validation(self, data=empty):
        if not isinstance(data, Mapping):
            return super().run_validation(data)  # not an object: that error alone
        workspace = self.named_workspace()
        detail: dict = {}
        try:
            request = super().run_validation({k: v for k, v in data.items() if k != "workspace"})
        except serializers.ValidationError as err:
            detail = dict(err.detail)
        if workspace is None:
            detail["workspace"] = [self._workspace_problem]
        if detail:
            raise serializers.ValidationError(detail)
        return request


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

    # Shown through a relation or computed from other columns: not columns of the job.
    _NOT_COLUMNS = frozenset({"id", "url", "workspace", "created_by", "cost", "is_byok", "outputs"})

    @classmethod
    def list_columns(cls) -> tuple[str, ...]:
        """The columns a list of jobs must load (``jobs_for_user(...).only(*…)``): what the
        fields show, the workspace's slug, the creator's username field and the ledger row's
        cost, so a page of 100 does not decode each job's raw provider answers nor its
        creator's other columns (issue #15)."""
        return (
            "public_id",
            "workspace",
            "created_by",
            "unsigned_urls",  # the outputs
            *(name for name in cls.Meta.fields if name not in cls._NOT_COLUMNS),
            "workspace__slug",
            f"created_by__{get_user_model().USERNAME_FIELD}",
            "usage_entry__cost",
            "usage_entry__is_byok",
        )

    def get_fields(self):
        # ModelSerializer introspects the model for every serializer made (every request):
        # the fields are built once per class and copied, as DRF copies declared fields.
        cls = type(self)
        if "_fields_built" not in cls.__dict__:
            cls._fields_built = super().get_fields()
        return copy.deepcopy(cls._fields_built)

    # A list serializes 25 to 100 jobs per request, and DRF's generic per-field path
    # (source lookups, SkipField and PKOnlyObject checks, one reverse() per URL) was most of
    # a page's time (issue #15). ``to_representation`` gives the same dict: plain attributes
    # are read directly and passed to the same field's ``to_representation``, other fields
    # take DRF's path, and a URL is built once and then filled in per job. The tests compare
    # it with DRF's own ``Serializer.to_representation``.
    def to_representation(self, job: VideoJob) -> dict:
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self._representation_plan = self._plan_representation()
        ret = {}
        for name, attr, field in plan:
            if attr is None:
                ret[name] = _drf_field_representation(field, job)
                continue
            value = getattr(job, attr)
            ret[name] = None if value is None else field.to_representation(value)
        return ret

    def _plan_representation(self) -> list[tuple[str, str | None, serializers.Field]]:
        plan = []
        for field in self._readable_fields:
            direct = (
                len(field.source_attrs) == 1
                and not isinstance(
                    field,
                    serializers.BaseSerializer
                    | serializers.SerializerMethodField
                    | serializers.RelatedField
                    | serializers.ManyRelatedField,
                )
                and not callable(getattr(VideoJob, field.source_attrs[0], None))
            )
            if isinstance(field, serializers.HyperlinkedIdentityField):
                field = _FilledURL(field, _public_id)
            elif isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
                # The current time zone, looked up once (an asgiref local) instead of per value.
                field.timezone = field.default_timezone()
            plan.append((field.field_name, field.source_attrs[0] if direct else None, field))
        return plan

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, job: VideoJob) -> str | None:
        return job.created_by.get_username() if job.created_by is not None else None

    @extend_schema_field(JobOutputSerializer(many=True))
    def get_outputs(self, job: VideoJob) -> list[dict]:
        if job.status != JobStatus.COMPLETED:
            return []
        if hasattr(job, "stored_outputs"):  # the selector's annotation: None when none
            stored = job.stored_outputs or []
        else:
            stored = job.outputs.filter(status=OutputStatus.STORED).values(
                "index", "size_bytes", "content_type", "sha256"
            )
        by_index = {output["index"]: output for output in stored}
        count = max([len(job.unsigned_urls or []), 1, *(i + 1 for i in by_index)])
        base = self._content_url(job)
        result = []
        for index in range(count):
            output = by_index.get(index)
            result.append(
                {
                    "index": index,
                    "url": f"{base}?index={index}",
                    "stored": output is not None,
                    "size_bytes": output["size_bytes"] if output else None,
                    "content_type": (output["content_type"] or None) if output else None,
                    "sha256": (output["sha256"] or None) if output else None,
                }
            )
        return result

    def _content_url(self, job: VideoJob) -> str:
        url = self.__dict__.get("_content_url_of")
        if url is None:
            url = self._content_url_of = _URLPattern(self._content_url_built, _public_id)
        return url.of(job)

    def _content_url_built(self, job: VideoJob) -> str:
        path = reverse("videogen:api:job-content", kwargs={"id": job.public_id})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


def _public_id(job: VideoJob) -> str:
    return str(job.public_id)


def _drf_field_representation(field: serializers.Field, instance):
    """One field as DRF's ``Serializer.to_representation`` renders it."""
    attribute = field.get_attribute(instance)
    check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
    return None if check_for_none is None else field.to_representation(attribute)


class _URLPattern:
    """A per-object URL built the slow way (``reverse``, ``build_absolute_uri``) once, then
    filled in: the part that names the object is cut out of the first URL built, and later
    objects' keys are put in its place. When the key is not found exactly once in the
    URL, every object takes the slow way."""

    def __init__(self, build, key):
        self.build, self.key = build, key
        self.parts: tuple[str, str] | None = None
        self.planned = False

    def of(self, obj) -> str:
        if self.parts is not None:
            return self.parts[0] + self.key(obj) + self.parts[1]
        url = self.build(obj)
        if not self.planned:
            self.planned = True
            key = self.key(obj)
            if url.count(key) == 1:
                self.parts = tuple(url.split(key))
        return url


class _FilledURL:
    """A ``HyperlinkedIdentityField`` whose URL is built once per serializer (_URLPattern)."""

    def __init__(self, field: serializers.HyperlinkedIdentityField, key):
        self.field_name, self.source_attrs = field.field_name, field.source_attrs
        self.pattern = _URLPattern(field.to_representation, key)

    def get_attribute(self, instance):
        return instance

    def to_representation(self, instance) -> str:
        return self.pattern.of(instance)


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


# The per-workspace report: any dimension but the workspace.
REPORT_DIMENSIONS = tuple(d for d in report.DIMENSIONS if d != "workspace")
_DIMENSION = f"({'|'.join(REPORT_DIMENSIONS)})"
# The API's names of the report parameters (services.money.report_parameters).
_QUERY_NAMES = {"time_zone": "tz"}


def _report_error(err: report.ReportError, *, field: str | None = None):
    """The rules' refusal as a DRF error: one field's list, or a dict by query parameter."""
    details = {
        _QUERY_NAMES.get(name, name): [serializers.ErrorDetail(p.message, p.code) for p in found]
        for name, found in err.problems.items()
    }
    return serializers.ValidationError(
        [e for found in details.values() for e in found] if field else details
    )


class UsageQuerySerializer(serializers.Serializer):
    """The report's query string, checked by the rules of ``report_parameters``."""

    group_by = serializers.RegexField(
        rf"^{_DIMENSION}(,{_DIMENSION})*$",
        default=",".join(report.DEFAULT_GROUP_BY),
        help_text="Comma-separated dimensions: model, day, month (not day and month together).",
    )
    start = serializers.DateField(
        required=False, help_text="First day (inclusive); with end. Default: this month."
    )
    end = serializers.DateField(
        required=False, help_text="Last day (inclusive); defaults to today when start is given."
    )
    month = serializers.RegexField(
        rf"^{report.MONTH_PATTERN}$", required=False, help_text="YYYY-MM, instead of start/end."
    )
    tz = serializers.CharField(
        required=False,
        max_length=report.MAX_TIME_ZONE_CHARS,
        help_text="IANA time zone for day boundaries (default: the site's).",
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"], default="json", help_text="json, or csv (also by Accept)."
    )

    def validate_group_by(self, value: str) -> tuple[str, ...]:
        try:
            return report.report_dimensions(value.split(","), allowed=REPORT_DIMENSIONS)
        except report.ReportError as err:
            raise _report_error(err, field="group_by") from None

    def validate_tz(self, value: str):
        try:
            return report.report_time_zone(value)
        except report.ReportError as err:
            raise _report_error(err, field="tz") from None

    def validate_month(self, value: str) -> tuple:
        try:
            return report.report_month(value)
        except report.ReportError as err:
            raise _report_error(err, field="month") from None

    def validate(self, attrs: dict) -> dict:
        tz = attrs.get("tz") or report.report_time_zone(None)
        try:
            start, end = report.report_period(
                start=attrs.get("start"), end=attrs.get("end"), month=attrs.get("month"), tz=tz
            )
        except report.ReportError as err:
            raise _report_error(err) from None
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
