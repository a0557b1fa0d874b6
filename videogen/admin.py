"""Staff control of videogen through the Django admin. Declarative; actions call services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from videogen import hygiene
from videogen.forms import HygieneJSONField, HygieneModelForm, UsageReportForm
from videogen.models import (
    JobEvent,
    JobStatus,
    OutputStatus,
    UsageEntry,
    VideoJob,
    VideoModel,
    VideoOutput,
    WebhookDelivery,
    Workspace,
    WorkspaceMembership,
)
from videogen.services.jobs.reconcile import job_poll_now
from videogen.services.jobs.submission import job_abandon, job_cancel, job_resubmit
from videogen.services.money.budgets import BudgetExceededError
from videogen.services.money.reports import report_as_csv, report_as_json, usage_report
from videogen.services.webhooks.receive import webhook_replay


class HygieneAdminMixin:
    """The text-hygiene rule in the admin: on every text and JSON field of its forms (a form
    error), and on the changelist's query string (search, filters), whose hostile values would
    otherwise reach SQL: the list is shown again without them, with a message."""

    form = HygieneModelForm
    formfield_overrides = {models.JSONField: {"form_class": HygieneJSONField}}

    def changelist_view(self, request, extra_context=None):
        for key, values in request.GET.lists():
            for text in (key, *values):
                problem = hygiene.text_problem(text, multiline=False, max_length=1000)
                if problem is not None:
                    self.message_user(
                        request,
                        _("Ignored the list's filters: %(name)s: %(problem)s")
                        % {"name": hygiene.printable(key, 50), "problem": problem.message},
                        messages.ERROR,
                    )
                    return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)


class WorkspaceMembershipInline(HygieneAdminMixin, admin.TabularInline):
    model = WorkspaceMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(HygieneAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "monthly_budget", "budget_policy", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WorkspaceMembershipInline]


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "source", "message"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class VideoOutputInline(admin.TabularInline):
    model = VideoOutput
    extra = 0
    can_delete = False
    fields = [
        "index",
        "status",
        "download",
        "size_bytes",
        "content_type",
        "sha256",
        "attempts",
        "last_error",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("file"))
    def download(self, output: VideoOutput):
        if output.status != OutputStatus.STORED or not output.file:
            return "–"
        url = reverse("admin:videogen_videooutput_download", args=[output.pk])
        return format_html('<a href="{}">{}</a>', url, _("download"))


@admin.register(VideoJob)
class VideoJobAdmin(HygieneAdminMixin, admin.ModelAdmin):
    list_display = [
        "public_id",
        "workspace",
        "model",
        "status",
        "needs_attention",
        "cost",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "needs_attention", "model", "workspace"]
    search_fields = ["public_id", "provider_job_id", "prompt"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace", "usage_entry"]
    raw_id_fields = ["created_by"]
    inlines = [VideoOutputInline, JobEventInline]
    actions = ["poll_jobs_now", "abandon_jobs", "resubmit_jobs", "cancel_queued_jobs"]

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_output)
        return [
            path("outputs/<int:pk>/download/", download, name="videogen_videooutput_download"),
            *super().get_urls(),
        ]

    def download_output(self, request, pk: int):
        """Serve a stored output (streamed from storage) to staff who may view jobs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        output = get_object_or_404(VideoOutput, pk=pk, status=OutputStatus.STORED)
        if not output.file:
            raise Http404
        return FileResponse(
            output.file.open("rb"),
            content_type=output.content_type or "application/octet-stream",
            as_attachment=True,
            filename=output.file.name.rsplit("/", 1)[-1],
        )

    readonly_fields = [
        "public_id",
        "status",
        "provider_job_id",
        "generation_id",
        "polling_url",
        "provider_status",
        "error",
        "unsigned_urls",
        "usage",
        "cost",
        "is_byok",
        "provider_response",
        "failure_reason",
        "last_error",
        "submit_attempts",
        "poll_attempts",
        "not_found_count",
        "next_poll_at",
        "lease_until",
        "created_at",
        "updated_at",
        "submitted_at",
        "finished_at",
    ]
    fieldsets = [
        (None, {"fields": ["public_id", "workspace", "created_by", "status", "needs_attention"]}),
        (
            "Request",
            {
                "fields": [
                    "model",
                    "prompt",
                    ("aspect_ratio", "resolution", "size"),
                    ("duration", "seed", "generate_audio"),
                    "frame_images",
                    "input_references",
                    "provider",
                    "callback_url",
                ]
            },
        ),
        (
            "Provider",
            {
                "fields": [
                    "provider_job_id",
                    "generation_id",
                    "polling_url",
                    "provider_status",
                    "error",
                    "unsigned_urls",
                    "usage",
                    ("cost", "estimated_cost", "is_byok"),
                    "provider_response",
                ]
            },
        ),
        (
            "Bookkeeping",
            {
                "classes": ["collapse"],
                "fields": [
                    "failure_reason",
                    "last_error",
                    ("submit_attempts", "poll_attempts", "not_found_count"),
                    ("next_poll_at", "lease_until"),
                    ("created_at", "updated_at"),
                    ("submitted_at", "finished_at"),
                ],
            },
        ),
    ]

    def has_add_permission(self, request) -> bool:
        # Jobs are created through job_create (API, command) so they are validated.
        return False

    def get_readonly_fields(self, request, obj=None):
        # Staff act through actions; the only hand-editable flag is needs_attention.
        fields = [f.name for f in self.model._meta.fields if f.name != "needs_attention"]
        return [*fields, "cost", "is_byok"]

    def save_model(self, request, obj, form, change):
        # Write only what staff changed in the form: the rest of `obj` was read before the
        # save, and writing it back could undo a status change made meanwhile (a webhook,
        # the poller). Status changes go through job_transition, never through this form.
        if change and form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated_at"])

    def _report(self, request, done: int, total: int, verb: str, why_not: str) -> None:
        self.message_user(
            request,
            ngettext(
                "%(done)d of %(total)d job %(verb)s.", "%(done)d of %(total)d jobs %(verb)s.", total
            )
            % {"done": done, "total": total, "verb": verb},
            messages.SUCCESS if done else messages.WARNING,
        )
        if done < total:
            self.message_user(request, why_not, messages.WARNING)

    @admin.action(
        description=_("Mark abandoned (submission outcome unknown)"), permissions=["change"]
    )
    def abandon_jobs(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = sum(job_abandon(job_id=pk).changed for pk in ids)
        self._report(
            request,
            done,
            len(ids),
            "marked abandoned",
            _("Only jobs whose submission outcome is unknown can be marked abandoned."),
        )

    @admin.action(
        description=_("Resubmit as a new job (outcome unknown: may be billed twice)"),
        permissions=["change"],
    )
    def resubmit_jobs(self, request, queryset):
        """Behind a confirmation page: the provider may already have this job."""
        jobs = list(queryset.select_related("workspace").order_by("pk"))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Resubmit jobs whose outcome is unknown?"),
                "resubmittable": [j for j in jobs if j.status == JobStatus.UNKNOWN],
                "skipped": [j for j in jobs if j.status != JobStatus.UNKNOWN],
                "action_name": "resubmit_jobs",
                "selected": [j.pk for j in jobs],
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/videogen/videojob/resubmit_confirmation.html", context
            )
        done = 0
        for job in jobs:
            try:
                result = job_resubmit(job_id=job.pk)
            except BudgetExceededError as err:
                self.message_user(request, f"{job.public_id}: {err}", messages.ERROR)
                continue
            if result.job is not None:
                done += 1
                self.message_user(
                    request,
                    f"{job.public_id} resubmitted as {result.job.public_id}.",
                    messages.SUCCESS,
                )
        self._report(
            request,
            done,
            len(jobs),
            "resubmitted",
            _("Only jobs whose submission outcome is unknown can be resubmitted."),
        )
        return None

    @admin.action(description=_("Poll the provider now"), permissions=["change"])
    def poll_jobs_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = sum(job_poll_now(job_id=pk).polled for pk in ids)
        self._report(
            request,
            done,
            len(ids),
            "polled",
            _(
                "Only jobs the provider knows that are in flight, completed without a cost, "
                "or given up on by the site are polled (and not while a sweep holds them)."
            ),
        )

    @admin.action(description=_("Cancel (queued jobs only)"), permissions=["change"])
    def cancel_queued_jobs(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = sum(job_cancel(job_id=pk, source="admin").changed for pk in ids)
        self._report(
            request,
            done,
            len(ids),
            "cancelled",
            _("Jobs already sent to the provider cannot be cancelled."),
        )


@admin.register(JobEvent)
class JobEventAdmin(HygieneAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "job", "from_status", "to_status", "source"]
    list_filter = ["source", "to_status"]
    search_fields = ["job__public_id", "job__provider_job_id"]
    list_select_related = ["job"]
    raw_id_fields = ["job"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageEntry)
class UsageEntryAdmin(HygieneAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/videogen/usageentry/change_list.html"
    list_display = [
        "completed_at",
        "workspace",
        "model",
        "cost",
        "is_byok",
        "duration",
        "resolution",
    ]
    list_filter = ["workspace", "model", "is_byok"]
    date_hierarchy = "completed_at"
    list_select_related = ["workspace"]
    raw_id_fields = ["job"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        report = self.admin_site.admin_view(self.report_view)
        return [path("report/", report, name="videogen_usageentry_report"), *super().get_urls()]

    def report_view(self, request):
        """Spend by workspace, model, day or month (the same service as the API and command)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = UsageReportForm(request.GET or None)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form}
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            report = usage_report(
                workspace_ids=[w.pk for w in data["workspaces"]] or None,
                start=data["start"],
                end=data["end"],
                group_by=data["group_by"],
                tz=data["time_zone"],
            )
            if request.GET.get("format") == "csv":
                response = HttpResponse(report_as_csv(report), content_type="text/csv")
                response["Content-Disposition"] = (
                    f'attachment; filename="usage-{report.start}-{report.end}.csv"'
                )
                return response
            data = report_as_json(report)
            dims = data["group_by"]
            columns = [*dims, "jobs", "cost", "seconds", "average_cost", "cost_per_second"]
            context.update(
                report=data,
                columns=columns,
                rows=[[row.get(c) for c in columns] for row in data["rows"]],
                total=["Total", *[None] * (len(dims) - 1)]
                + [data["total"].get(c) for c in columns[len(dims) :]],
            )
        return TemplateResponse(request, "admin/videogen/usageentry/report.html", context)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(HygieneAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "event_type",
        "provider_job_id",
        "signature_valid",
        "outcome",
        "processing_ms",
    ]
    list_filter = ["outcome", "signature_valid", "idempotency_header_mismatch", "event_type"]
    search_fields = ["idempotency_key", "provider_job_id", "callback_ref"]
    raw_id_fields = ["job"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["replay_deliveries"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Replay (apply the stored event again)"), permissions=["change"])
    def replay_deliveries(self, request, queryset):
        for delivery_id in queryset.values_list("pk", flat=True):
            answer = webhook_replay(delivery_id=delivery_id)
            level = messages.SUCCESS if answer.status_code < 300 else messages.WARNING
            self.message_user(request, f"Delivery {delivery_id}: {answer.message}", level)


@admin.register(VideoModel)
class VideoModelAdmin(HygieneAdminMixin, admin.ModelAdmin):
    list_display = ["model_id", "name", "is_active", "generate_audio", "seed", "synced_at"]
    list_filter = ["is_active"]
    search_fields = ["model_id", "name"]
    readonly_fields = ["synced_at", "provider_response"]
