"""A job's page in the admin: sections (request, provider state, money, bookkeeping), the
stored video playable inline, its history, outputs and webhook deliveries read-only, the
customer's page, and why it needs attention with the buttons that resolve it."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from videogen.admin import display
from videogen.admin.base import RecordInline
from videogen.admin.files import output_response
from videogen.models import (
    JobEvent,
    JobStatus,
    OutputStatus,
    VideoJob,
    VideoOutput,
    WebhookDelivery,
)
from videogen.services.jobs import staff
from videogen.services.jobs.reconcile import job_is_manually_pollable
from videogen.services.money.display import money


class VideoOutputInline(RecordInline):
    model = VideoOutput
    verbose_name = _("video")
    verbose_name_plural = _("videos (stored outputs)")
    fields = ["index", "status", "download", "size", "content_type", "attempts", "last_error"]
    readonly_fields = fields

    @admin.display(description=_("file"))
    def download(self, output: VideoOutput):
        if output.status != OutputStatus.STORED or not output.file:
            return display.EMPTY
        url = reverse("admin:videogen_videooutput_download", args=[output.pk])
        return format_html('<a href="{}">{}</a>', url, _("download"))

    @admin.display(description=_("size"))
    def size(self, output: VideoOutput):
        return filesizeformat(output.size_bytes) if output.size_bytes is not None else "–"


class WebhookDeliveryInline(RecordInline):
    model = WebhookDelivery
    verbose_name = _("webhook delivery")
    verbose_name_plural = _("webhook deliveries")
    fields = ["delivery", "received_at", "event_type", "outcome", "signature_valid", "error"]
    readonly_fields = fields
    ordering = ["-received_at", "-id"]

    @admin.display(description=_("delivery"))
    def delivery(self, delivery: WebhookDelivery):
        url = reverse("admin:videogen_webhookdelivery_change", args=[delivery.pk])
        return format_html('<a href="{}">#{}</a>', url, delivery.pk)


class JobEventInline(RecordInline):
    model = JobEvent
    verbose_name = _("event")
    verbose_name_plural = _("history (job events)")
    fields = ["created_at", "change", "source", "message"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    @admin.display(description=_("status"))
    def change(self, event: JobEvent):
        return display.status_change(event)


# What each remedy of ``staff.job_attention`` is called here.
REMEDY_ACTIONS = {
    staff.POLL: "poll_jobs_now",
    staff.REFETCH_OUTPUTS: "refetch_outputs",
    staff.ABANDON: "abandon_jobs",
    staff.RESUBMIT: "resubmit_jobs",
    staff.CLEAR_FLAG: "clear_attention",
}


class JobPageMixin:
    """The job page of ``VideoJobAdmin``: read-only but for the *needs attention* flag."""

    inlines = [VideoOutputInline, JobEventInline, WebhookDeliveryInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("status_badge", "age"),
                    ("workspace", "source", "created_by"),
                    "needs_attention",
                    "video",
                ]
            },
        ),
        (
            _("Request"),
            {
                "fields": [
                    "model",
                    "prompt_text",
                    "request_shape",
                    "frame_images_json",
                    "input_references_json",
                    "provider_json",
                    "callback_url",
                ]
            },
        ),
        (
            _("Provider state"),
            {
                "fields": [
                    ("provider_job_id", "generation_id"),
                    ("provider_status", "finished_at"),
                    "error_text",
                    "polling_url",
                    "unsigned_urls_json",
                    "provider_response_json",
                ]
            },
        ),
        (
            _("Money"),
            {
                "fields": [
                    ("charged", "estimate", "byok"),
                    "ledger_entry",
                    "usage_json",
                ]
            },
        ),
        (
            _("Bookkeeping"),
            {
                "classes": ["collapse"],
                "fields": [
                    "public_id",
                    ("failure_reason", "locally_closed"),
                    "last_error_text",
                    ("submit_attempts", "poll_attempts", "not_found_count"),
                    ("next_poll_at", "lease_until"),
                    ("created_at", "submitted_at", "updated_at"),
                    ("resubmission_of", "resubmissions"),
                ],
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Everything is read-only but the flag (status changes go through the lifecycle).
        return [f for f in flatten_fieldsets(self.fieldsets) if f != "needs_attention"]

    def has_add_permission(self, request) -> bool:
        # Jobs are created through job_create (API, pages, command) so they are validated.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # A job is the record of a request the provider may have billed: it stays.
        return False

    def view_on_site(self, job: VideoJob):
        try:
            return reverse("videogen:job", args=[job.workspace.slug, job.public_id])
        except NoReverseMatch:  # the host site did not include videogen's pages
            return None

    def save_model(self, request, obj, form, change):
        # Write only what staff changed in the form: the rest of `obj` was read before the
        # save, and writing it back could undo a status change made meanwhile (a webhook,
        # the poller). Status changes go through job_transition, never through this form.
        if change and form.changed_data:
            obj.save(update_fields=[*form.changed_data, "updated_at"])

    def get_inlines(self, request, obj):
        # Record inlines with no rows are left out: an empty table says nothing.
        if obj is None:
            return []
        present = {
            VideoOutputInline: obj.outputs.exists(),
            JobEventInline: True,
            WebhookDeliveryInline: obj.webhook_deliveries.exists(),
        }
        return [inline for inline in self.inlines if present.get(inline, True)]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            outputs = list(obj.outputs.order_by("index"))
            obj.admin_outputs = outputs  # for the player (rendered with the page)
            attention = staff.job_attention(obj, outputs=outputs)
            context.update(
                title=_("Job %(id)s") % {"id": str(obj.public_id)[:8]},
                subtitle=f"{obj.model} · {obj.workspace}",
                attention=attention,
                job_actions=self._job_page_actions(request, obj, outputs, attention),
                changelist_url=reverse("admin:videogen_videojob_changelist"),
                action_checkbox_name=ACTION_CHECKBOX_NAME,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _job_page_actions(self, request, job, outputs, attention) -> list[dict]:
        """The actions that apply to this job now, as buttons ({name, label, remedy})."""
        if not self.has_change_permission(request, job):
            return []
        stored = [o for o in outputs if o.status == OutputStatus.STORED]
        applies = {
            "poll_jobs_now": job_is_manually_pollable(job),
            "refetch_outputs": job.status == JobStatus.COMPLETED
            and bool(job.provider_job_id)
            and (not outputs or len(stored) < len(outputs)),
            "cancel_queued_jobs": job.status == JobStatus.QUEUED,
            "abandon_jobs": job.status == JobStatus.UNKNOWN,
            "resubmit_jobs": job.status == JobStatus.UNKNOWN,
            "clear_attention": job.needs_attention,
        }
        remedies = {REMEDY_ACTIONS[r] for r in attention.remedies} if attention else set()
        labels = {
            "poll_jobs_now": _("Poll now"),
            "refetch_outputs": _("Re-fetch outputs"),
            "cancel_queued_jobs": _("Cancel"),
            "abandon_jobs": _("Mark abandoned"),
            "resubmit_jobs": _("Resubmit (may bill twice)"),
            "clear_attention": _("Clear the attention flag"),
        }
        return [
            {"name": name, "label": labels[name], "remedy": name in remedies}
            for name, ok in applies.items()
            if ok or name in remedies
        ]

    @admin.display(description=_("video"))
    def video(self, job: VideoJob):
        every = getattr(job, "admin_outputs", None)
        if every is None:
            every = list(job.outputs.order_by("index"))
        outputs = [o for o in every if o.status == OutputStatus.STORED and o.file]
        if not outputs:
            if job.status != JobStatus.COMPLETED:
                return display.EMPTY
            return format_html('<span class="vg-quiet">{}</span>', _("No video stored."))
        return format_html_join(
            "",
            '<figure class="vg-player"><video controls preload="metadata" src="{}"></video>'
            '<figcaption><a href="{}">{}</a></figcaption></figure>',
            (
                (
                    reverse("admin:videogen_videooutput_play", args=[o.pk]),
                    reverse("admin:videogen_videooutput_download", args=[o.pk]),
                    _("Download video %(n)d") % {"n": o.index + 1},
                )
                for o in outputs
            ),
        )

    @admin.display(description=_("prompt"))
    def prompt_text(self, job):
        return display.text_block(job.prompt)

    @admin.display(description=_("frame images"))
    def frame_images_json(self, job):
        return display.json_block(job.frame_images)

    @admin.display(description=_("input references"))
    def input_references_json(self, job):
        return display.json_block(job.input_references)

    @admin.display(description=_("provider options"))
    def provider_json(self, job):
        return display.json_block(job.provider)

    @admin.display(description=_("provider's error"))
    def error_text(self, job):
        return display.text_block(job.error)

    @admin.display(description=_("last transient error"))
    def last_error_text(self, job):
        return display.text_block(job.last_error)

    @admin.display(description=_("unsigned URLs"))
    def unsigned_urls_json(self, job):
        return display.json_block(job.unsigned_urls)

    @admin.display(description=_("provider's last answer"))
    def provider_response_json(self, job):
        return display.json_block(job.provider_response)

    @admin.display(description=_("usage as reported"))
    def usage_json(self, job):
        return display.json_block(job.usage)

    @admin.display(description=_("estimate"))
    def estimate(self, job):
        return display.EMPTY if job.estimated_cost is None else money(job.estimated_cost)

    @admin.display(description=_("charged"))
    def charged(self, job):
        cost = job.cost
        if cost is not None:
            return money(cost)
        if job.status in display.UNSUCCESSFUL:
            return _("not charged")
        if job.status == JobStatus.COMPLETED:
            return _("not reported by the provider yet")
        return _("nothing yet")

    @admin.display(description=_("own key (BYOK)"))
    def byok(self, job):
        return _("yes") if job.is_byok else _("no")

    @admin.display(description=_("duration, resolution, shape"))
    def request_shape(self, job):
        audio = {True: _("with audio"), False: _("silent")}.get(
            job.generate_audio, _("audio: model default")
        )
        parts = [
            f"{job.duration} s" if job.duration else _("model's default duration"),
            job.resolution or None,
            job.aspect_ratio or None,
            f"{job.size} px" if job.size else None,
            _("seed %(seed)s") % {"seed": job.seed} if job.seed is not None else None,
            audio,
        ]
        return " · ".join(str(p) for p in parts if p)

    @admin.display(description=_("ledger entry"))
    def ledger_entry(self, job):
        entry = job._ledger_entry()
        if entry is None:
            return display.EMPTY
        url = reverse("admin:videogen_usageentry_change", args=[entry.pk])
        return format_html('<a href="{}">#{}</a>', url, entry.pk)

    @admin.display(description=_("resubmitted as"))
    def resubmissions(self, job):
        links = [
            (reverse("admin:videogen_videojob_change", args=[j.pk]), str(j.public_id)[:8])
            for j in job.resubmissions.order_by("created_at")
        ]
        if not links:
            return display.EMPTY
        return format_html_join(", ", '<a href="{}">{}</a>', links)

    # --- stored videos ----------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "outputs/<int:pk>/download/",
                view(self.download_output),
                name="videogen_videooutput_download",
            ),
            path(
                "outputs/<int:pk>/play/", view(self.play_output), name="videogen_videooutput_play"
            ),
            *super().get_urls(),
        ]

    def _stored_output(self, request, pk: int) -> VideoOutput:
        if not self.has_view_permission(request):
            raise PermissionDenied
        output = get_object_or_404(VideoOutput, pk=pk, status=OutputStatus.STORED)
        if not output.file:
            raise Http404
        return output

    def download_output(self, request, pk: int):
        """A stored video as a download, streamed from storage, for staff who may view jobs."""
        return output_response(request, self._stored_output(request, pk), as_attachment=True)

    def play_output(self, request, pk: int):
        """A stored video for the job page's player (byte ranges, so it can seek)."""
        return output_response(request, self._stored_output(request, pk), as_attachment=False)
