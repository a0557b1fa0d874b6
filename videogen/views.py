"""HTTP entry points of videogen: the OpenRouter webhook receiver and the workspace pages.

The pages are thin: reads come from ``videogen.selectors`` (scoped to the caller's
memberships, so another workspace's objects answer 404 whatever the method), writes go
through the services. Viewers read; members and admins create and refresh jobs, admins see
the spend (403 otherwise). Parts of a page that change while a job runs are re-rendered on
their own for htmx (``HX-Target`` names the part), until nothing shown can change.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.text import slugify
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django_htmx.middleware import HtmxDetails

from videogen.charts import spend_chart
from videogen.conf import videogen_settings
from videogen.forms import JobRequestForm, SpendMonthForm
from videogen.keyset import InvalidCursor, keyset_page
from videogen.models import EventSource, OutputStatus, Role, VideoJob, Workspace
from videogen.ranges import serve_stored_file
from videogen.selectors import (
    WRITER_ROLES,
    job_output_stored,
    jobs_for_user,
    jobs_of_workspace,
    workspace_for_user,
    workspaces_for_user,
)
from videogen.services import tokens
from videogen.services.jobs.media import job_inputs
from videogen.services.jobs.progress import (
    job_media_state,
    job_watch_seconds,
    jobs_watch_seconds,
)
from videogen.services.jobs.reconcile import job_is_manually_pollable, job_poll_now
from videogen.services.jobs.submission import job_create
from videogen.services.money.budgets import BudgetExceededError
from videogen.services.money.quotes import job_quote
from videogen.services.money.reports import report_as_csv
from videogen.services.money.spend import workspace_spend_month
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
    Django's ``LoginRequiredMiddleware``, and out of ``ATOMIC_REQUESTS`` so the receiver's
    own transaction decides what commits (an unapplicable delivery is still stored) and no
    provider call runs in a transaction.
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
# The parts of pages that htmx re-renders on their own (their element ids).
JOBS_PART = "vg-jobs"
JOB_PART = "vg-job-facts"
PROMPT_HEADING_CHARS = 90


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


def _part(request: HttpRequest) -> str | None:
    """The part of the page htmx asks for (``HX-Target``), ``None`` for a whole page."""
    htmx = HtmxDetails(request)
    return htmx.target if htmx else None


def _bad_request(request: HttpRequest, message: str, back: str) -> HttpResponse:
    return render(
        request, "videogen/bad_request.html", {"message": message, "back": back}, status=400
    )


@login_required
def workspace_list(request: HttpRequest) -> HttpResponse:
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    workspaces = workspaces_for_user(user=request.user)
    return render(request, "videogen/workspace_list.html", {"workspaces": workspaces})


def _job_form(request: HttpRequest, workspace: Workspace, *args, **kwargs) -> JobRequestForm:
    options_url = reverse("videogen:job-form", args=[workspace.slug])
    return JobRequestForm(*args, options_url=options_url, **kwargs)


def _quote(workspace: Workspace, form: JobRequestForm):
    return job_quote(workspace=workspace, model=form.catalog_entry, request=form.price_request())


@outside_request_transactions  # job_create's own transaction; a refusal's signal after it
@login_required
def workspace_detail(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace_or_404(request, slug)
    if refused := _not_allowed(request, "GET", "HEAD", "POST"):
        return refused
    can_write = workspace.caller_role in WRITER_ROLES
    try:
        page = keyset_page(
            jobs_of_workspace(workspace=workspace),
            size=JOBS_PER_PAGE,
            older=request.GET.get("older"),
            newer=request.GET.get("newer"),
        )
    except InvalidCursor as err:
        return _bad_request(request, str(err), reverse("videogen:workspace", args=[slug]))
    context = {
        "workspace": workspace,
        "page": page,
        "can_write": can_write,
        "is_admin": workspace.caller_role == Role.ADMIN,
        "watch_seconds": jobs_watch_seconds(jobs=page.items),
        "list_url": request.get_full_path(),
    }
    if _part(request) == JOBS_PART:
        return render(request, "videogen/includes/jobs.html", context)
    form = None
    if request.method == "POST":
        _require_writer(workspace.caller_role)
        if request.POST.get("action") == "options":  # no JavaScript: show the model's options
            form = _job_form(
                request, workspace, initial=request.POST.dict(), model_id=request.POST.get("model")
            )
        else:
            form = _job_form(request, workspace, request.POST, request.FILES)
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
        form = _job_form(request, workspace, model_id=request.GET.get("model"))
    context.update(form=form, quote=_quote(workspace, form) if form else None)
    return render(request, "videogen/workspace_detail.html", context)


@login_required
def job_form_part(request: HttpRequest, slug: str) -> HttpResponse:
    """The "New video" form's model options (``HX-Target: vg-model-options``) with the
    quote, or the quote alone, for the values given: what htmx asks for as fields change."""
    workspace = _workspace_or_404(request, slug)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    _require_writer(workspace.caller_role)
    if _part(request) == "vg-model-options":
        form = _job_form(
            request, workspace, initial=request.GET.dict(), model_id=request.GET.get("model")
        )
        context = {"form": form, "quote": _quote(workspace, form), "workspace": workspace}
        return render(request, "videogen/includes/job_form_options.html", context | {"oob": True})
    form = _job_form(request, workspace, request.GET)
    context = {"quote": _quote(workspace, form)}
    return render(request, "videogen/includes/job_quote.html", context)


@login_required
def job_detail(request: HttpRequest, slug: str, public_id: UUID) -> HttpResponse:
    job = _job_or_404(request, slug, public_id)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    outputs = list(job.outputs.order_by("index"))
    inputs = job_inputs(job=job)
    media_state = job_media_state(job=job, outputs=outputs)
    # What the page showed last (sent back by its poll): the video part and the spoken
    # announcement are only re-sent when it changed, so a playing video is never replaced.
    shown_key = f"{job.status}.{media_state}"
    context = {
        "workspace": job.workspace,
        "job": job,
        "events": job.events.all(),
        "outputs": outputs,
        "stored_outputs": [o for o in outputs if o.status == OutputStatus.STORED and o.file],
        "media_state": media_state,
        "shown_key": shown_key,
        "changed": request.GET.get("shown") != shown_key,
        # The heading shows the prompt's start; a long or multi-line one is shown whole too.
        "prompt_in_full": len(job.prompt) > PROMPT_HEADING_CHARS or "\n" in job.prompt,
        "inputs": inputs,
        "first_frame": next((i for i in inputs if i.frame_type == "first_frame"), None),
        "can_write": job.caller_role in WRITER_ROLES,
        "can_refresh": job_is_manually_pollable(job),
        "watch_seconds": job_watch_seconds(job=job, outputs=outputs),
    }
    if _part(request) == JOB_PART:
        context["is_part"] = True
        return render(request, "videogen/includes/job_live.html", context)
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


def _download_name(job: VideoJob, index: int, extension: str) -> str:
    words = slugify(job.prompt)[:40].strip("-") or "video"
    suffix = f"-{index + 1}" if index else ""
    return f"{words}-{str(job.public_id)[:8]}{suffix}{extension}"


def _serve_stored(
    request: HttpRequest, storage, name: str, *, content_type: str, filename: str, **extra
) -> HttpResponse:
    """A stored file (``?download=1``: as an attachment), by ``ranges.serve_stored_file``."""
    return serve_stored_file(
        request,
        storage,
        name,
        content_type=content_type,
        filename=filename,
        as_attachment=request.GET.get("download") == "1",
        **extra,
    )


@login_required
def job_output(request: HttpRequest, slug: str, public_id: UUID, index: int) -> HttpResponse:
    job = _job_or_404(request, slug, public_id)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    output = job_output_stored(job=job, index=index)
    if output is None:
        raise Http404("This output is not stored.")
    name = output.file.name
    return _serve_stored(
        request,
        output.file.storage,
        name,
        content_type=output.content_type or "video/mp4",
        filename=_download_name(job, index, "." + name.rsplit(".", 1)[-1] if "." in name else ""),
        etag=f'"{output.sha256}"' if output.sha256 else None,
        last_modified=output.stored_at,
    )


@login_required
def job_input(
    request: HttpRequest, slug: str, public_id: UUID, field: str, index: int
) -> HttpResponse:
    """A media input of the job that the site stored (a frame image sent as a data: URL)."""
    job = _job_or_404(request, slug, public_id)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    found = next((i for i in job_inputs(job=job) if (i.field, i.index) == (field, index)), None)
    if found is None or not found.storage_name:
        raise Http404("This input is not stored on this site.")
    name = found.storage_name
    return _serve_stored(
        request,
        found.storage,
        name,
        content_type=found.media_type or "application/octet-stream",
        filename=name.rsplit("/", 1)[-1],
        etag=f'"{found.sha256}"' if found.sha256 else None,
    )


@login_required
def workspace_spend(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = _workspace_or_404(request, slug)
    if refused := _not_allowed(request, "GET", "HEAD"):
        return refused
    if workspace.caller_role != Role.ADMIN:
        raise PermissionDenied("Only the workspace's admins see its spend.")
    form = SpendMonthForm(request.GET)
    context = {"workspace": workspace, "form": form, "is_admin": True}
    if not form.is_valid():
        return render(request, "videogen/workspace_spend.html", context, status=400)
    today = timezone.localdate(timezone=timezone.get_default_timezone())
    year, month = form.cleaned_data["month"] or (today.year, today.month)
    spend = workspace_spend_month(workspace=workspace, year=year, month=month)
    if form.cleaned_data["format"] == "csv":
        response = HttpResponse(report_as_csv(spend.report), content_type="text/csv; charset=utf-8")
        name = f"spend-{workspace.slug}-{spend.first:%Y-%m}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    names = {m.model: m.name for m in spend.models}
    chart = spend_chart(spend.report, "day", names=names, width=720, height=260)
    context.update(spend=spend, chart=chart)
    return render(request, "videogen/workspace_spend.html", context)


@never_cache  # the page may show a new token's key, once
@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    if refused := _not_allowed(request, "GET", "HEAD", "POST"):
        return refused
    context = {
        "installed": tokens.api_tokens_installed(),
        "api_url": request.build_absolute_uri(reverse("videogen:api:job-list")),
    }
    if not context["installed"]:
        return render(request, "videogen/api_token.html", context)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            context["new_key"] = tokens.api_token_create(user=request.user)
        elif action == "revoke":
            if tokens.api_token_revoke(user=request.user):
                messages.success(request, "Your API token was revoked.", fail_silently=True)
            return redirect("videogen:api-token")
        else:
            return _bad_request(
                request, "Unknown action: create or revoke a token.", reverse("videogen:api-token")
            )
    context["token"] = tokens.api_token_state(user=request.user)
    return render(request, "videogen/api_token.html", context)
