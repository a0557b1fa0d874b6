"""The API's OpenAPI 3 schema (drf-spectacular): what each operation documents, the schema
view and its offline docs page.

The schema view documents exactly videogen's endpoints, with videogen's own settings, so it
does not depend on what the host puts in ``SPECTACULAR_SETTINGS`` (the host only needs
``drf_spectacular`` and ``drf_spectacular_sidecar`` in ``INSTALLED_APPS``). Each viewset of
``videogen.api.views`` carries one decorator from here (``jobs_documented``…) with its tag and
each action's summary, parameters, examples and documented answers.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

import videogen
from videogen.api import serializers as s
from videogen.api.filters import MAX_SEARCH_CHARS
from videogen.api.pagination import JobCursorPagination

SCHEMA_SETTINGS = {
    "TITLE": "videogen API",
    "DESCRIPTION": (
        "Video generation jobs on OpenRouter's asynchronous video API, scoped to your "
        "workspaces. Objects of workspaces you do not belong to answer 404. Every error is "
        '`{"detail", "code"}` (400s add `errors`: field → [{message, code}]).'
    ),
    "VERSION": videogen.__version__,
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["videogen.api.schema.only_videogen_endpoints"],
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "videogen.models.JobStatus",
        "AspectRatioEnum": "videogen.models.AspectRatio",
        "ResolutionEnum": "videogen.models.Resolution",
        "FrameTypeEnum": "videogen.models.FrameType",
        "RoleEnum": "videogen.models.Role",
        "BudgetPolicyEnum": "videogen.models.BudgetPolicy",
    },
}


def only_videogen_endpoints(endpoints):
    """Keep the endpoints of ``videogen.api.views`` (not the schema and docs views, nor the
    host's own DRF views)."""
    return [
        endpoint
        for endpoint in endpoints
        if getattr(endpoint[3], "cls", None) is not None
        and endpoint[3].cls.__module__ == "videogen.api.views"
    ]


class VideogenSchemaView(SpectacularAPIView):
    """``GET schema/``: the OpenAPI document (YAML, or JSON by ``Accept``/``?format=json``)."""

    permission_classes = [AllowAny]
    custom_settings = SCHEMA_SETTINGS


class VideogenDocsView(SpectacularSwaggerView):
    """``GET docs/``: Swagger UI from drf-spectacular-sidecar's files (no CDN, no internet)."""

    permission_classes = [AllowAny]
    url_name = "videogen:api:schema"
    title = SCHEMA_SETTINGS["TITLE"]

    @staticmethod
    def _swagger_ui_resource(filename):
        from drf_spectacular.views import _get_sidecar_url

        return _get_sidecar_url(f"swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon():
        from drf_spectacular.views import _get_sidecar_url

        return _get_sidecar_url("swagger-ui-dist/favicon-32x32.png")


# --- what each operation documents, beside the serializers that shape it --------------------
# videogen.api.views applies one of these to each viewset; the views themselves only parse,
# call a service or selector, and render.

JSON = "application/json"
EXAMPLE_REQUEST = {
    "model": "google/veo-3.1",
    "prompt": "A red fox trotting through fresh snow at dawn, slow tracking shot",
    "duration": 8,
    "resolution": "1080p",
    "aspect_ratio": "16:9",
    "generate_audio": True,
}


def errors(*statuses: int) -> dict:
    """Documented error answers: the given statuses plus 400 (hostile parameters), 401, 403
    and 429 everywhere."""
    shapes = {
        400: (s.ValidationErrorSerializer, "Invalid input (field errors with codes)."),
        401: (s.ErrorSerializer, "Not authenticated."),
        403: (s.ErrorSerializer, "Not allowed (not authenticated, or role too low)."),
        404: (s.ErrorSerializer, "Not found (or not in one of your workspaces)."),
        402: (s.BudgetErrorSerializer, "Refused by the workspace's monthly budget."),
        409: (s.ErrorSerializer, "Conflicts with the job's state."),
        413: (s.ErrorSerializer, "Request body too large."),
        429: (s.ErrorSerializer, "Throttled; see Retry-After."),
        502: (s.ErrorSerializer, "The video provider failed."),
    }
    return {
        (code, JSON): OpenApiResponse(shapes[code][0], description=shapes[code][1])
        for code in sorted({*statuses, 400, 401, 403, 429})
    }


def documented(tag: str, **operations):
    """A viewset's class decorator: its tag, and each action's ``extend_schema``."""

    def decorate(viewset):
        return extend_schema(tags=[tag])(extend_schema_view(**operations)(viewset))

    return decorate


jobs_documented = documented(
    "jobs",
    list=extend_schema(
        summary="List jobs",
        description=(
            "Newest first, cursor-paginated (follow `next`). A cursor that is not one this "
            "endpoint gave answers 404."
        ),
        parameters=[
            OpenApiParameter(
                "ordering",
                str,
                enum=["created_at", "-created_at", "updated_at", "-updated_at"],
                description="Sort key (ties broken by id). Default: -created_at.",
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1},
                description=f"Jobs per page (default {JobCursorPagination.page_size}, "
                f"at most {JobCursorPagination.max_page_size}).",
            ),
            OpenApiParameter(
                "search",
                {"type": "string", "maxLength": MAX_SEARCH_CHARS},
                description="Words to find in the prompt.",
            ),
        ],
        responses={200: s.JobSerializer(many=True), **errors(400, 404)},
    ),
    retrieve=extend_schema(summary="Get a job", responses={200: s.JobSerializer, **errors(404)}),
    create=extend_schema(
        summary="Create a job",
        description=(
            "Validates the request against the provider's schema and the model's capabilities, "
            "checks the workspace's monthly budget, stores the job `queued` and sends it to the "
            "provider in the background. Answers 202 with the job and its `Location`. "
            "A budget refusal answers 402 `budget_exceeded` with the numbers."
        ),
        request=s.JobCreateSerializer,
        examples=[
            OpenApiExample(
                "Text to video",
                value={"workspace": "my-studio", **EXAMPLE_REQUEST},
                request_only=True,
            )
        ],
        responses={
            202: OpenApiResponse(s.JobSerializer, description="Accepted: queued for submission."),
            **errors(400, 402, 413),
        },
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                required=True,
                description="The new job's URL.",
            )
        ],
    ),
    estimate=extend_schema(
        summary="Estimate the cost of a request",
        description="The same validation as job creation; nothing is stored or sent.",
        request=s.GenerationSerializer,
        examples=[OpenApiExample("Text to video", value=EXAMPLE_REQUEST, request_only=True)],
        responses={200: s.EstimateSerializer, **errors(400, 413)},
    ),
    refresh=extend_schema(
        summary="Poll the provider now",
        description=(
            "For a job at the provider that is in flight, completed but still missing its cost, "
            "or given up on by the site, asks the provider for its state right away and "
            "applies it; otherwise (or while a sweep is polling it) answers the job as it is. "
            "A provider failure is recorded on the job, never raised."
        ),
        request=None,
        responses={200: s.JobSerializer, **errors(404)},
    ),
    cancel=extend_schema(
        summary="Cancel a queued job",
        description=(
            "Only a job not yet sent to the provider (`queued`) can be cancelled: the "
            "provider has no cancel call. Any other state answers 409 `not_cancellable`."
        ),
        request=None,
        responses={200: s.JobSerializer, **errors(404, 409)},
    ),
    content=extend_schema(
        summary="Download a video",
        description=(
            "The stored copy when the site kept it, else streamed from the provider. "
            "409 `job_not_completed` before completion; 404 `content_not_found` when the "
            "provider has no such output; 502 `provider_error` when it fails."
        ),
        parameters=[s.ContentQuerySerializer, OpenApiParameter("format", exclude=True)],
        responses={
            (200, "video/mp4"): OpenApiResponse(OpenApiTypes.BINARY, description="The video."),
            **errors(400, 404, 409, 502),
        },
    ),
)

models_documented = documented(
    "models",
    list=extend_schema(
        summary="List video models", responses={200: s.VideoModelSerializer(many=True), **errors()}
    ),
)

workspaces_documented = documented(
    "workspaces",
    list=extend_schema(
        summary="List your workspaces",
        responses={200: s.WorkspaceSerializer(many=True), **errors()},
    ),
    retrieve=extend_schema(
        summary="Get a workspace", responses={200: s.WorkspaceSerializer, **errors(404)}
    ),
    usage=extend_schema(
        summary="Usage report (admins)",
        description=(
            "Spend from the ledger, grouped by model, day or month, for a date range (default: "
            "this month) in a time zone; JSON, or CSV with `format=csv` or `Accept: text/csv`."
        ),
        parameters=[s.UsageQuerySerializer],
        responses={
            (200, JSON): s.UsageReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row a group."),
            **errors(400, 404),
        },
    ),
)
