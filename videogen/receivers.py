"""videogen's own reactions to its signals (connected in AppConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from videogen.conf import videogen_settings
from videogen.models import VideoJob
from videogen.services import queue
from videogen.signals import job_completed


@receiver(job_completed, sender=VideoJob, dispatch_uid="videogen.store_outputs")
def store_outputs_on_completion(sender, job: VideoJob, **kwargs) -> None:
    if videogen_settings.STORE_OUTPUTS:
        queue.enqueue_fetch_outputs(job.pk)
