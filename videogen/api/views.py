"""The API's viewsets: parse, call a selector or service, render. Nothing else happens here.

Scoping: every queryset comes from ``videogen.selectors`` and starts from the caller's
memberships, so another workspace's job, content or report answers 404 on every method.
Roles (``permissions.HasWorkspaceRole``): viewers read, members create and act on jobs,
admins also see budgets and usage reports; a role too low answers 403.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, JsonResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, ErrorDetail, NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from videogen import hygiene
from videogen.api import serializers as s
from videogen.api.exceptions import (
    ContentNotFound,
    JobNotCancellable,
    JobNotCompleted,
    ProviderUnavailable,
    videogen_exception_handler,
)
from videogen.api.filters import (
    MAX_SEARCH_CHARS,
    JobFilter,
    JobOrderingFilter,
    JobSearchFilter,
)
from videogen.api.pagination import JobCursorPagination
from videogen.api.parsers import CappedJSONParser
from videogen.api.permissions import ADMIN_ONLY, ALL_ROLES, HasWorkspaceRole
from videogen.api.renderers import CSVRenderer, LenientFormatNegotiation, PassthroughRenderer
from videogen.api.schema import jobs_documented, models_documented, workspaces_documented
from videogen.api.throttling import VideogenUserRateThrottle
from videogen.models import EventSource, JobStatus, VideoJob
from videogen.provider.errors import ProviderError, ProviderNotFound
from videogen.selectors import (
    job_output_stored,
    jobs_for_user,
    video_models_active,
    workspaces_for_user,
)
from videogen.services.jobs.outputs import job_content_open
from videogen.services.jobs.reconcile import job_is_manually_pollable, job_poll_now
from videogen.services.jobs.submission import job_cancel, job_create
from videogen.services.money.estimates import job_request_estimate
from videogen.services.money.reports import report_as_csv, report_as_json, usage_report
from videogen.transactions import outside_request_transactions

logger = logging.getLogger(__name__)

JSON = "application/json"
# Longest query parameter value accepted at all (filters set tighter limits of their own).
MAX_QUERY_VALUE_CHARS = 1000


def _refuse_hostile_parameters(request, path_parameters: dict, limits: dict[str, int]) -> None:
    """The hygiene rule on path parameters and on every query parameter's name and values
    (at most ``limits[name]`` or ``MAX_QUERY_VALUE_CHARS`` characters): a 400 naming the
    parameter (``non_field_errors`` for a hostile name), before any lookup reaches SQL."""
    detail: dict[str, list[ErrorDetail]] = {}

    def refuse(field: str, message: str, code: str) -> None:
        detail.setdefault(field, []).append(ErrorDetail(message, code=code))

    for name, value in path_parameters.items():
        if isinstance(value, str) and (problem := hygiene.text_problem(value, multiline=False)):
            refuse(name, problem.message, problem.code)
    for key, values in request.query_params.lists():
        if problem := hygiene.text_problem(key, multiline=False, max_length=100):
            message = f"{hygiene.printable(key, 50)}: {problem.message}"
            refuse(api_settings.NON_FIELD_ERRORS_KEY, message, problem.code)
            continue
        limit = limits.get(key, MAX_QUERY_VALUE_CHARS)
        for value in values:
            if problem := hygiene.text_problem(value, multiline=False, max_length=limit):
                refuse(key, problem.message, problem.code)
                break
    if detail:
        raise ValidationError(detail)


class VideogenAPIMixin:
    """What every videogen endpoint shares, whatever the host's DRF defaults are.

    Authentication stays the host's (``DEFAULT_AUTHENTICATION_CLASSES``).
    """

    permission_classes = [IsAuthenticated, HasWorkspaceRole]
    throttle_classes = [VideogenUserRateThrottle]
    parser_classes = [CappedJSONParser]
    content_negotiation_class = LenientFormatNegotiation
    schema = AutoSchema()  # drf-spectacular's, whatever the host's DEFAULT_SCHEMA_CLASS
    roles_by_action: dict[str, frozenset[str]] = {}
    # Query parameters with a limit tighter than MAX_QUERY_VALUE_CHARS.
    query_max_lengths: dict[str, int] = {}

    @classmethod
    def as_view(cls, *args, **kwargs):
        # Never inside ATOMIC_REQUESTS' transaction: the services open their own, and
        # refresh and content call the provider (see videogen.transactions).
        return outside_request_transactions(super().as_view(*args, **kwargs))

    def get_exception_handler(self):
        return videogen_exception_handler

    def initial(self, request, *args, **kwargs):
        # Credentials are looked up by the host's authentication classes (a token is a
        # database key): one that breaks the hygiene rule is no credential at all.
        credentials = request.META.get("HTTP_AUTHORIZATION", "")
        if hygiene.text_problem(credentials, multiline=False):
            raise AuthenticationFailed(_("Invalid characters in the Authorization header."))
        super().initial(request, *args, **kwargs)
        _refuse_hostile_parameters(request, kwargs, self.query_max_lengths)

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON even where the success answer is CSV or video bytes.
        if isinstance(response, Response) and response.exception:
            renderer = getattr(request, "accepted_renderer", None)
            if renderer is not None and renderer.format not in ("json", "api"):
                request.accepted_renderer = JSONRenderer()
                request.accepted_media_type = JSON
        return super().finalize_response(request, response, *args, **kwargs)


# --- jobs ------------------------------------------------------------------------------------


@jobs_documented
class JobViewSet(
    VideogenAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Video generation jobs of your workspaces."""

    serializer_class = s.JobSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"  # anything but a UUID answers the API's 404 (get_object)
    filter_backends = [
        DjangoFilterBackend,
        JobSearchFilter,
        JobOrderingFilter,
    ]
    filterset_class = JobFilter
    search_fields = ["prompt"]
    ordering_fields = ["created_at", "updated_at"]
    ordering = ["-created_at", "-id"]
    pagination_class = JobCursorPagination
    roles_by_action = {"estimate": ALL_ROLES}
    query_max_lengths = {"search": MAX_SEARCH_CHARS}

    def get_queryset(self):
        jobs = jobs_for_user(user=self.request.user)
        if self.action == "list":
            return jobs.only(*s.JobSerializer.list_columns())
        return jobs.defer("provider_response")

    def get_object(self) -> VideoJob:
        try:
            uuid.UUID(str(self.kwargs[self.lookup_url_kwarg]))
        except ValueError:
            raise NotFound() from None
        return super().get_object()

    def get_serializer_class(self):
        if self.action == "create":
            return s.JobCreateSerializer
        if self.action == "estimate":
            return s.GenerationSerializer
        return s.JobSerializer

    def _job_response(self, job: VideoJob, code: int = status.HTTP_200_OK, **kwargs) -> Response:
        data = s.JobSerializer(job, context=self.get_serializer_context()).data
        return Response(data, status=code, **kwargs)

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        workspace = body.named_workspace()
        if workspace is not None:
            self.check_object_permissions(request, workspace)  # a viewer: 403, before validation
        body.is_valid(raise_exception=True)
        job = job_create(
            workspace=workspace,
            data=body.validated_data,
            created_by=request.user,
            source=EventSource.API,
        )
        response = self._job_response(job, status.HTTP_202_ACCEPTED)
        response["Location"] = str(response.data["url"])
        return response

    @action(detail=False, methods=["post"])
    def estimate(self, request):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        estimate = job_request_estimate(data=body.validated_data)
        return Response(s.EstimateSerializer(estimate).data)

    @action(detail=True, methods=["post"])
    def refresh(self, request, id=None):
        job = self.get_object()
        if job_is_manually_pollable(job):
            job_poll_now(job_id=job.pk)
            job = self.get_object()
        return self._job_response(job)

    @action(detail=True, methods=["post"])
    def cancel(self, request, id=None):
        job = self.get_object()
        result = job_cancel(job_id=job.pk, source=EventSource.API)
        if not result.changed:
            raise JobNotCancellable(
                _(
                    "Only a queued job can be cancelled (the provider has no cancel call); "
                    "this job is %(status)s."
                )
                % {"status": result.job.status if result.job else job.status}
            )
        return self._job_response(self.get_object())

    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PassthroughRenderer])
    def content(self, request, id=None):
        job = self.get_object()
        query = s.ContentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        index = query.validated_data["index"]
        if job.status != JobStatus.COMPLETED:
            raise JobNotCompleted(
                _("The job has no video yet: it is %(status)s.") % {"status": job.status}
            )
        count = len(job.unsigned_urls or [])
        if count and index >= count:
            raise ValidationError(
                {
                    "index": [
                        ErrorDetail(
                            _("This job has %(count)s output(s), numbered from 0.")
                            % {"count": count},
                            code="out_of_range",
                        )
                    ]
                }
            )
        filename = f"{job.public_id}-{index}.mp4"
        stored = job_output_stored(job=job, index=index)
        if stored is not None:
            try:
                handle = stored.file.storage.open(stored.file.name, "rb")
            except OSError:
                logger.warning("videogen: stored output %s is unreadable; streaming", stored.pk)
            else:
                return FileResponse(
                    handle,
                    content_type=stored.content_type or "video/mp4",
                    filename=filename,
                )
        if not job.provider_job_id:
            raise ContentNotFound()
        try:
            upstream = job_content_open(job=job, index=index)
        except ProviderNotFound:
            raise ContentNotFound() from None
        except ProviderError as err:
            logger.warning("videogen: content of job %s failed: %s", job.public_id, err)
            raise ProviderUnavailable() from err
        response = StreamingHttpResponse(
            _relay(upstream, job=job),
            content_type=(upstream.content_type or "video/mp4").split(";")[0].strip(),
        )
        if upstream.content_length is not None:
            response["Content-Length"] = str(upstream.content_length)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response


def _relay(upstream, *, job: VideoJob):
    """Yield the provider's chunks; the upstream connection is released however it ends."""
    try:
        yield from upstream.iter_chunks()
    except ProviderError as err:  # headers are sent: the client sees a short body
        logger.warning("videogen: streaming job %s was cut off: %s", job.public_id, err)
    finally:
        upstream.close()


# --- catalog ---------------------------------------------------------------------------------


@models_documented
class VideoModelViewSet(VideogenAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The provider's video models, as last synced: capabilities and prices."""

    serializer_class = s.VideoModelSerializer
    pagination_class = None

    def get_queryset(self):
        return video_models_active()


# --- workspaces ------------------------------------------------------------------------------


@workspaces_documented
class WorkspaceViewSet(
    VideogenAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Workspaces you belong to, with your role (and the budget, for admins)."""

    serializer_class = s.WorkspaceSerializer
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    pagination_class = None
    roles_by_action = {"usage": ADMIN_ONLY}

    def get_queryset(self):
        return workspaces_for_user(user=self.request.user)

    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer])
    def usage(self, request, slug=None):
        workspace = self.get_object()
        query = s.UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = usage_report(
            workspace_ids=[workspace.pk],
            start=params["start"],
            end=params["end"],
            group_by=params["group_by"],
            tz=params["tz"],
        )
        if request.accepted_renderer.format == "csv":
            name = f"usage-{workspace.slug}-{report.start}-{report.end}.csv"
            return Response(
                report_as_csv(report),
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        # Through the serializer: money always as plain decimal strings (never "0E-8").
        return Response(s.UsageReportSerializer(report_as_json(report)).data)


@csrf_exempt  # any method, any caller: the API's own 404, as DRF's views answer (they are exempt)
@login_not_required
def api_not_found(request, *args, **kwargs):
    """Any other path under the API: the API's JSON 404, not the site's HTML page (nor a CSRF
    403 or a redirect to the host's login)."""
    return JsonResponse({"detail": str(NotFound.default_detail), "code": "not_found"}, status=404)
