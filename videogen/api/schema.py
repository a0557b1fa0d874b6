"""The API's OpenAPI 3 schema (drf-spectacular) and its offline docs page.

The schema view documents exactly videogen's endpoints, with videogen's own settings, so it
does not depend on what the host puts in ``SPECTACULAR_SETTINGS`` (the host only needs
``drf_spectacular`` and ``drf_spectacular_sidecar`` in ``INSTALLED_APPS``).
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

import videogen

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
