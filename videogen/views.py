"""HTTP entry points of videogen: the OpenRouter webhook receiver (web pages come later)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from videogen.conf import videogen_settings
from videogen.services.webhooks import webhook_receive


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
@method_decorator(transaction.non_atomic_requests, name="dispatch")
class OpenRouterWebhookView(View):
    """POST endpoint for ``callback_url``: verify, store, apply, answer (see services.webhooks).

    Opts out of ATOMIC_REQUESTS so the delivery record survives a failure while processing.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _read_capped_body(request, int(videogen_settings.WEBHOOK_MAX_BODY_BYTES))
        answer = webhook_receive(body=body, headers=request.headers)
        if answer.status_code == 204:
            return HttpResponse(status=204)
        return JsonResponse({"error": answer.message}, status=answer.status_code)
