"""The API's errors and its exception handler.

Every error answers with one JSON shape, so clients branch on ``code``, never on messages::

    {"detail": "<message>", "code": "<stable code>"}                      # any error
    {"detail": "Invalid input.", "code": "invalid",
     "errors": {"<field>": [{"message": "…", "code": "…"}]}}              # 400 field errors

Field errors raised by the domain (django ``ValidationError`` from the request schema's
validation) keep the schema's codes; errors about the request as a whole are listed under
``non_field_errors``. A budget refusal (402) adds the numbers.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from videogen.services.money.budgets import BudgetExceededError
from videogen.services.money.reports import ReportError


class BudgetExceeded(exceptions.APIException):
    """402: the workspace's monthly budget (policy ``block``) refuses this job."""

    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_detail = _("This job would take the workspace over its monthly budget.")
    default_code = "budget_exceeded"

    def __init__(self, error: BudgetExceededError):
        check = error.check
        super().__init__(str(error))
        self.extra = {
            "currency": "USD",
            "budget": _money(check.budget),
            "spent": _money(check.spent),
            "in_flight": _money(check.in_flight),
            "estimate": _money(check.estimate),
            "projected": _money(check.projected),
        }


class RequestBodyTooLarge(exceptions.APIException):
    """413, naming the limit that was actually hit: videogen's own cap (the request schema's
    ``MAX_REQUEST_BYTES``) or the site's ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"

    def __init__(self, limit: int):
        super().__init__(
            _(
                "The request body is larger than %(limit)s, the most this site accepts. "
                "Use https:// URLs instead of data: URLs for large inputs."
            )
            % {"limit": mebibytes(limit)}
        )


def mebibytes(size: int) -> str:
    """``2.5 MiB``, ``45 MiB``; bytes below one KiB."""
    if size < 1024:
        return f"{size} bytes"
    unit, value = ("MiB", size / 2**20) if size >= 2**20 else ("KiB", size / 1024)
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


class JobNotCancellable(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _(
        "Only a job that is still queued can be cancelled: the provider has no cancel call."
    )
    default_code = "not_cancellable"


class JobNotCompleted(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The job has no video yet: it is not completed.")
    default_code = "job_not_completed"


class ContentNotFound(exceptions.APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = _("The provider has no video for this job and index.")
    default_code = "content_not_found"


class ProviderUnavailable(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = _("The video provider failed to answer; try again later.")
    default_code = "provider_error"


def _money(value) -> str | None:
    return None if value is None else str(value)


def _render_django_error(error: DjangoValidationError) -> exceptions.ErrorDetail:
    message = error.message
    if error.params:
        message = message % error.params
    return exceptions.ErrorDetail(str(message), code=error.code or "invalid")


def validation_error_from_django(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A DRF ``ValidationError`` with the same fields, messages and codes."""
    if hasattr(exc, "error_dict"):
        detail: dict[str, list] = {}
        for field, errors in exc.error_dict.items():
            key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
            detail.setdefault(key, []).extend(_render_django_error(e) for e in errors)
    else:
        detail = {
            api_settings.NON_FIELD_ERRORS_KEY: [_render_django_error(e) for e in exc.error_list]
        }
    return exceptions.ValidationError(detail)


def _translate(exc: Exception) -> Exception:
    """Domain and Django exceptions as the API exceptions they mean."""
    if isinstance(exc, DjangoValidationError):
        return validation_error_from_django(exc)
    if isinstance(exc, RequestDataTooBig):
        # Django's own cap, met when the body is read (before videogen's parser runs).
        return RequestBodyTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, BudgetExceededError):
        return BudgetExceeded(exc)
    if isinstance(exc, ReportError):
        return exceptions.ValidationError(
            {api_settings.NON_FIELD_ERRORS_KEY: [exceptions.ErrorDetail(str(exc), "invalid")]}
        )
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def _field_errors(details: Any) -> dict[str, list[dict[str, str]]]:
    if isinstance(details, dict):
        result = {}
        for field, value in details.items():
            if isinstance(value, list) and all(
                isinstance(v, dict) and "message" in v for v in value
            ):
                result[str(field)] = value
            elif isinstance(value, dict) and "message" in value:
                result[str(field)] = [value]
            else:  # nested serializer errors: flatten the path into the key
                for sub, errors in _field_errors(value).items():
                    result[f"{field}.{sub}"] = errors
        return result
    if isinstance(details, list):
        flat = [d for d in details if isinstance(d, dict) and "message" in d]
        return {api_settings.NON_FIELD_ERRORS_KEY: flat} if flat else {}
    return {}


def videogen_exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, fed the translated exception, answering the envelope above."""
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: a 500, as it should be
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": str(_("Invalid input.")),
            "code": "invalid",
            "errors": _field_errors(exc.get_full_details()),
        }
        return response
    if isinstance(exc, exceptions.APIException):
        details = exc.get_full_details()
        if isinstance(details, dict) and "message" in details:
            message, code = details["message"], details["code"]
        else:
            message, code = str(exc.default_detail), exc.default_code
        response.data = {"detail": str(message), "code": str(code), **getattr(exc, "extra", {})}
        if response.status_code == status.HTTP_400_BAD_REQUEST:
            response.data["errors"] = {}  # every 400 has the same shape (e.g. a parse error)
    return response
