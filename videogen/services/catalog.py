"""The model catalog: a local copy of the provider's ``GET /videos/models``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from videogen.models import VideoModel
from videogen.provider.client import get_client
from videogen.provider.types import VideoModelInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogSyncResult:
    created: int
    updated: int
    deactivated: int
    # The provider listed no model at all: nothing was changed.
    empty_answer: bool = False

    def __str__(self) -> str:
        if self.empty_answer:
            return "the provider listed no models; the catalog was left as it was"
        return f"{self.created} created, {self.updated} updated, {self.deactivated} deactivated"


def _model_fields(info: VideoModelInfo) -> dict:
    def as_list(value):
        return list(value) if value is not None else None

    return {
        "canonical_slug": info.canonical_slug,
        "name": info.name,
        "description": info.description,
        "provider_created_at": datetime.fromtimestamp(info.created, tz=UTC)
        if info.created
        else None,
        "supported_durations": as_list(info.supported_durations),
        "supported_resolutions": as_list(info.supported_resolutions),
        "supported_aspect_ratios": as_list(info.supported_aspect_ratios),
        "supported_sizes": as_list(info.supported_sizes),
        "supported_frame_images": as_list(info.supported_frame_images),
        "generate_audio": info.generate_audio,
        "seed": info.seed,
        "pricing_skus": info.pricing_skus,
        "allowed_passthrough_parameters": list(info.allowed_passthrough_parameters),
        # JSON columns cannot hold Decimal; the raw copy is for humans, so str is fine.
        "provider_response": _jsonable(info.raw),
        "is_active": True,
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def catalog_sync(*, models: list[VideoModelInfo] | None = None) -> CatalogSyncResult:
    """Upsert every model the provider lists; deactivate the ones it stopped listing.

    ``models`` may be given (tests, fixtures); otherwise the provider is asked. An empty
    answer changes nothing (a warning is logged): a provider hiccup must not retire every
    model and make every job request invalid.
    """
    infos = get_client().list_models() if models is None else models
    if not infos:
        logger.warning(
            "videogen: the provider listed no video models; the catalog (%s active) is kept",
            VideoModel.objects.filter(is_active=True).count(),
        )
        return CatalogSyncResult(created=0, updated=0, deactivated=0, empty_answer=True)
    now = timezone.now()
    created = updated = 0
    with transaction.atomic():
        for info in infos:
            _, was_created = VideoModel.objects.update_or_create(
                model_id=info.id, defaults={**_model_fields(info), "synced_at": now}
            )
            created += was_created
            updated += not was_created
        deactivated = (
            VideoModel.objects.filter(is_active=True)
            .exclude(model_id__in=[info.id for info in infos])
            .update(is_active=False, synced_at=now)
        )
    logger.info("videogen: catalog synced: %s created, %s updated", created, updated)
    return CatalogSyncResult(created=created, updated=updated, deactivated=deactivated)
