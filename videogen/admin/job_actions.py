"""The job list's actions. Each calls ``services.jobs.staff`` (which enqueues whatever talks
to the provider), reports per job what it did, needs the *change* permission (the export:
*view*), and from a job page's button comes back to that job."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from videogen.models import JobStatus, VideoJob
from videogen.services.jobs import staff
from videogen.services.jobs.export import jobs_csv_lines

# A bulk action other than the export acts on at most this many jobs at once.
MAX_ACTION_JOBS = 500
# Job ids named in one message at most (the rest are counted).
IDS_PER_MESSAGE = 10


class JobActionsMixin:
    actions = [
        "poll_jobs_now",
        "refetch_outputs",
        "cancel_queued_jobs",
        "abandon_jobs",
        "resubmit_jobs",
        "clear_attention",
        "export_csv",
    ]

    def _selected_ids(self, request, queryset) -> list[int] | None:
        ids = list(queryset.order_by().values_list("pk", flat=True)[: MAX_ACTION_JOBS + 1])
        if len(ids) > MAX_ACTION_JOBS:
            self.message_user(
                request,
                _("Select at most %(n)d jobs for this action (narrow the list first).")
                % {"n": MAX_ACTION_JOBS},
                messages.ERROR,
            )
            return None
        return ids

    def _report(self, request, results: list[staff.JobActionResult], verb: str) -> None:
        """One summary line, then per outcome the jobs it concerns, in words."""
        done = sum(r.done for r in results)
        total = len(results)
        self.message_user(
            request,
            ngettext(
                "%(done)d of %(total)d job %(verb)s.", "%(done)d of %(total)d jobs %(verb)s.", total
            )
            % {"done": done, "total": total, "verb": verb},
            messages.SUCCESS if done else messages.WARNING,
        )
        groups: dict[tuple[bool, str], list[str]] = {}
        for result in results:
            groups.setdefault((result.done, result.note), []).append(result.short_id)
        for (ok, note), ids in groups.items():
            named = ", ".join(ids[:IDS_PER_MESSAGE])
            if len(ids) > IDS_PER_MESSAGE:
                named += _(" and %(n)d more") % {"n": len(ids) - IDS_PER_MESSAGE}
            self.message_user(
                request, f"{named}: {note}.", messages.SUCCESS if ok else messages.WARNING
            )

    def _back(self, request, ids: list[int]):
        """From the job page's buttons, back to that job's page (built here, not taken from
        the request); from the list, back to the list."""
        if request.POST.get("_job_page") and len(ids) == 1:
            return HttpResponseRedirect(reverse("admin:videogen_videojob_change", args=[ids[0]]))
        return None

    @admin.action(
        description=_("Poll the provider now (queued for the workers)"), permissions=["change"]
    )
    def poll_jobs_now(self, request, queryset):
        if (ids := self._selected_ids(request, queryset)) is None:
            return None
        self._report(request, staff.jobs_poll_enqueue(job_ids=ids), "queued for a poll")
        return self._back(request, ids)

    @admin.action(
        description=_("Re-fetch outputs (download the videos again)"), permissions=["change"]
    )
    def refetch_outputs(self, request, queryset):
        if (ids := self._selected_ids(request, queryset)) is None:
            return None
        self._report(request, staff.jobs_outputs_refetch(job_ids=ids), "queued for a download")
        return self._back(request, ids)

    @admin.action(description=_("Cancel (queued jobs only)"), permissions=["change"])
    def cancel_queued_jobs(self, request, queryset):
        if (ids := self._selected_ids(request, queryset)) is None:
            return None
        self._report(request, staff.jobs_cancel(job_ids=ids), "cancelled")
        return self._back(request, ids)

    @admin.action(
        description=_("Mark abandoned (submission outcome unknown)"), permissions=["change"]
    )
    def abandon_jobs(self, request, queryset):
        if (ids := self._selected_ids(request, queryset)) is None:
            return None
        self._report(request, staff.jobs_abandon(job_ids=ids), "marked abandoned")
        return self._back(request, ids)

    @admin.action(
        description=_("Resubmit as a new job (outcome unknown: may be billed twice)"),
        permissions=["change"],
    )
    def resubmit_jobs(self, request, queryset):
        """Behind a confirmation page: the provider may already have these jobs."""
        if (ids := self._selected_ids(request, queryset)) is None:
            return None
        if request.POST.get("confirm") != "yes":
            jobs = list(VideoJob.objects.filter(pk__in=ids).select_related("workspace"))
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Resubmit jobs whose outcome is unknown?"),
                "resubmittable": [j for j in jobs if j.status == JobStatus.UNKNOWN],
                "skipped": [j for j in jobs if j.status != JobStatus.UNKNOWN],
                "action_name": "resubmit_jobs",
                "selected": ids,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "job_page": request.POST.get("_job_page", ""),
            }
            return TemplateResponse(
                request, "admin/videogen/videojob/resubmit_confirmation.html", context
            )
        results = staff.jobs_resubmit(job_ids=ids, created_by=request.user)
        self._report(request, results, "resubmitted")
        new = [r.new_job for r in results if r.new_job is not None]
        if request.POST.get("_job_page") and len(new) == 1:
            return HttpResponseRedirect(reverse("admin:videogen_videojob_change", args=[new[0].pk]))
        return None

    @admin.action(description=_("Clear the needs-attention flag"), permissions=["change"])
    def clear_attention(self, request, queryset):
        if (ids := self._selected_ids(request, queryset)) is None:
            return None
        self._report(request, staff.jobs_clear_attention(job_ids=ids), "cleared")
        return self._back(request, ids)

    @admin.action(description=_("Export CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        """Every selected job (all of the filtered list with *select all*), streamed."""
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(jobs_csv_lines(queryset), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="videogen-jobs-{stamp}.csv"'
        return response
