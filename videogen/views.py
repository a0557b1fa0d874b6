"""HTTP entry points of videogen: the OpenRouter webhook receiver and the workspace pages.

The pages are thin: reads come from ``videogen.selectors`` (scoped to the caller's
memberships, so another workspace's objects answer 404 whatever the method), writes go
through the services. Viewers read; members and admins create and refresh jobs (403 otherwise).
"""

from __future__ import annotations

import posixpath
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from videogen.conf import videogen_settings
from videogen.forms import JobRequestForm
from videogen.models import EventSource, VideoJob, Workspace
from videogen.selectors import (
    WRITER_ROLES,
    job_output_stored,
    jobs_for_user,
    workspace_for_user,
    workspaces_for_user,
)
from videogen.services.jobs.reconcile import job_is_manually_pollable, job_poll_now
from videogen.services.jobs.submission import job_create
from videogen.services.money.budgets import BudgetExceededError
from videogen.services.webhooks.receive import webhook_receive
from videogen.transactions import outside_request_transactions


def _read_capped_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` (read no further than that)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class OpenRouterWebhookView(View):
    """POST endpoint for ``callback_url``: verify, store, apply, answer (see services.webhooks).

    Works in any host site: CSRF-exempt (the signature is the authentication), exempt from
    Django's ``LoginRequiredMiddleware``, and out of ``ATOMIC_REQUESTS`` so the delivery
    record survives a failure while processing and no provider call runs in a transaction.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _read_capped_body(request, videogen_settings.WEBHOOK_MAX_BODY_BYTES)
        answer = webhook_receive(
            body=body, headers=request.headers, callback_ref=request.GET.get("ref")
        )
        if answer.status_code == 204:
            return HttpResponse(status=204)
        key = "detail" if answer.status_code < 400 else "error"
        return JsonResponse({key: answer.message}, status=answer.status_code)


# --- workspace pages ----------------------------------------------------------------------

JOBS_PER_PAGE = 25


def _workspace_or_404(request: HttpRequest, slug: str) -> Workspace:
    workspace = workspace_for_user(user=request.user, slug=slug)
    if workspace is None:
        raise Http404("No such workspace.")
    return workspace


def _job_or_404(request: HttpRequest, slug: str, public_id: UUID) -> VideoJob:
    job = jobs_for_user(user=request.user).filter(workspace__slug=slug, public_id=public_id).first()
    if job is None:
        raise Http404("No such job.")
    return job


def _not_allowed(request: HttpRequest, *methods: str) -> HttpResponse | None:
    # Checked after the lookup, so another workspace's URL answers 404 for every method.
    return None if request.method in methods else HttpResponseNotAllowed(methods)


def _require_writer(role: str | None) -> None:
    if role not in WRITER_ROLES:
        raise PermissionDenied("Your role in this workspace does not allow this.")


def _job_url(job: VideoJob) -> str:
    return reverse("videogen:job", args=[job.workspace.slug, job.public_id])


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    workspaces = workspaces_for_user(user=request.user)
    return render(request, "videogen/workspace_list.html", {"workspaces": workspaces})


@outside_request_transactions  # job_create's own transaction; a refusal's signal after it
@login_required
def workspace_detail(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace_or_404(request, slug)
    if refused := _not_allowed(request, "GET", "HEAD", "POST"):
        return refused
    can_write = workspace.caller_role in WRITER_ROLES
    form = None
    if request.method == "POST":
        _require_writer(workspace.caller_role)
        form = JobRequestForm(request.POST)
        if form.is_valid():
            try:
                job = job_create(
                    workspace=workspace,
                    data=form.request_data(),
                    created_by=request.user,
                    source=EventSource.WEB,
                )
            except ValidationError as err:
                form.add_request_errors(err)
            except BudgetExceededError as err:
                form.add_error(None, str(err))
            else:
                messages.success(request, "Video job created.", fail_silently=True)
                return redirect(_job_url(job))
    elif can_write:
        form = JobRequestForm()
    jobs = jobs_for_user(user=request.user).filter(workspace=workspace)
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"workspace": workspace, "page": page, "form": form, "can_write": can_write}
    return render(request, "videogen/workspace_detail.html", context)


@login_required
def job_detail(request: HttpRequest, slug: str, public_id: UUID) -> HttpResponse:
    job = _job_or_404(request, slug, public_id)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    context = {
        "workspace": job.workspace,
        "job": job,
        "events": job.events.all(),
        "outputs": job.stored_outputs,
        "can_write": job.caller_role in WRITER_ROLES,
        "can_refresh": job_is_manually_pollable(job),
    }
    return render(request, "videogen/job_detail.html", context)


@outside_request_transactions  # calls the provider
@login_required
def job_refresh(request: HttpRequest, slug: str, public_id: UUID) -> HttpResponse:
    job = _job_or_404(request, slug, public_id)
    if refused := _not_allowed(request, "POST"):
        return refused
    _require_writer(job.caller_role)
    if job_is_manually_pollable(job):
        job_poll_now(job_id=job.pk)
        messages.info(request, "Asked the provider for the job's state.", fail_silently=True)
    return redirect(_job_url(job))


@login_required
def job_output(request: HttpRequest, slug: str, public_id: UUID, index: int) -> HttpResponse:
    job = _job_or_404(request, slug, public_id)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    output = job_output_stored(job=job, index=index)
    if output is None:
        raise Http404("This output is not stored.")
    try:
        handle = output.file.storage.open(output.file.name, "rb")
    except (FileNotFoundError, OSError) as err:
        raise Http404("This output's file is missing.") from err
    return FileResponse(
        handle,
        content_type=output.content_type or "video/mp4",
        filename=posixpath.basename(output.file.name),
    )
