"""The model catalog in the admin: capabilities and prices readable, and *Sync now*."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from videogen.admin import display
from videogen.admin.base import STYLESHEET, HygieneAdminMixin
from videogen.admin.filters import ListedFilter
from videogen.models import VideoModel
from videogen.services import queue


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown")


@admin.register(VideoModel)
class VideoModelAdmin(HygieneAdminMixin, admin.ModelAdmin):
    list_display = [
        "model_id",
        "name",
        "listed",
        "durations",
        "resolutions",
        "audio",
        "price_list",
    ]
    list_filter = [ListedFilter]
    search_fields = ["model_id", "name"]
    readonly_fields = ["synced_at", "capabilities", "price_list", "provider_response_json"]
    fieldsets = [
        (None, {"fields": ["model_id", "name", "canonical_slug", "description", "is_active"]}),
        (_("What it can do"), {"fields": ["capabilities", "price_list", "synced_at"]}),
        (
            _("Stored values (the next sync replaces them)"),
            {
                "classes": ["collapse"],
                "fields": [
                    "provider_created_at",
                    "supported_durations",
                    "supported_resolutions",
                    "supported_aspect_ratios",
                    "supported_sizes",
                    "supported_frame_images",
                    ("generate_audio", "seed"),
                    "pricing_skus",
                    "allowed_passthrough_parameters",
                ],
            },
        ),
        (
            _("The provider's answer"),
            {"classes": ["collapse"], "fields": ["provider_response_json"]},
        ),
    ]

    class Media:
        css = {"all": [STYLESHEET]}

    @admin.display(description=_("durations"))
    def durations(self, model: VideoModel):
        return display.choices(model.supported_durations, "s")

    @admin.display(description=_("resolutions"))
    def resolutions(self, model: VideoModel):
        return display.choices(model.supported_resolutions)

    @admin.display(description=_("audio"))
    def audio(self, model: VideoModel):
        return _yes_no(model.generate_audio)

    @admin.display(description=_("prices"))
    def price_list(self, model: VideoModel):
        return display.prices(model.pricing_skus)

    @admin.display(description=_("listed"), boolean=True, ordering="is_active")
    def listed(self, model: VideoModel):
        return model.is_active

    @admin.display(description=_("capabilities"))
    def capabilities(self, model: VideoModel):
        frames = [str(f).replace("_", " ") for f in model.supported_frame_images or []]
        rows = [
            (_("Durations"), display.choices(model.supported_durations, "s")),
            (_("Resolutions"), display.choices(model.supported_resolutions)),
            (_("Aspect ratios"), display.choices(model.supported_aspect_ratios)),
            (_("Sizes"), display.choices(model.supported_sizes)),
            (_("Frame images"), display.choices(frames)),
            (_("Generates audio"), _yes_no(model.generate_audio)),
            (_("Deterministic seed"), _yes_no(model.seed)),
            (_("Passthrough parameters"), display.choices(model.allowed_passthrough_parameters)),
        ]
        return format_html(
            '<dl class="vg-facts">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows)
        )

    @admin.display(description=_("answer"))
    def provider_response_json(self, model: VideoModel):
        return display.json_block(model.provider_response)

    # --- Sync now ---------------------------------------------------------------------

    def get_urls(self):
        sync = self.admin_site.admin_view(self.sync_view)
        return [path("sync/", sync, name="videogen_videomodel_sync"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        last = VideoModel.objects.order_by("-synced_at").values_list("synced_at", flat=True).first()
        extra_context = {
            **(extra_context or {}),
            "can_sync": self.has_change_permission(request),
            "last_synced": display.age(last),
        }
        return super().changelist_view(request, extra_context)

    def sync_view(self, request):
        """Ask the workers to sync the catalog from the provider now (a POST, by staff who
        may change the catalog); the schedule keeps syncing it anyway."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        if queue.enqueue_catalog_sync():
            self.message_user(
                request,
                _("Catalog sync queued: the list shows the provider's models once it has run."),
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("The task queue refused the sync; the schedule syncs the catalog anyway."),
                messages.ERROR,
            )
        return HttpResponseRedirect(reverse("admin:videogen_videomodel_changelist"))
