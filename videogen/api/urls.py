"""URLs of the REST API; ``videogen.urls`` includes them under ``api/``."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from videogen.api.schema import VideogenDocsView, VideogenSchemaView
from videogen.api.views import JobViewSet, VideoModelViewSet, WorkspaceViewSet, api_not_found

app_name = "api"


class _Router(DefaultRouter):
    include_format_suffixes = False  # ?format= is enough; no duplicate .json paths


router = _Router()
router.register("jobs", JobViewSet, basename="job")
router.register("models", VideoModelViewSet, basename="videomodel")
router.register("workspaces", WorkspaceViewSet, basename="workspace")

urlpatterns = [
    path("schema/", VideogenSchemaView.as_view(), name="schema"),
    path("docs/", VideogenDocsView.as_view(), name="docs"),
    *router.urls,
    # The API's JSON 404 for any other path below it (ending in "/", so APPEND_SLASH still
    # redirects "jobs" to "jobs/").
    re_path(r"^.*/$", api_not_found),
]
