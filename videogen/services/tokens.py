"""A user's API token for the REST API, on hosts that use DRF's ``rest_framework.authtoken``.

videogen does not require it: ``api_tokens_installed()`` says whether the host installed it, and
the other functions are only called when it did (its model cannot even be imported otherwise).
DRF keeps one token per user; "create" replaces any token the user had, "revoke" deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import transaction

AUTHTOKEN_APP = "rest_framework.authtoken"


@dataclass(frozen=True)
class TokenState:
    exists: bool
    created: datetime | None = None
    # Accepted by the API: TokenAuthentication (or a subclass) is among DRF's authentication
    # classes. A token the API would not read is still shown, with a warning.
    accepted_by_api: bool = True


def api_tokens_installed() -> bool:
    return apps.is_installed(AUTHTOKEN_APP)


def _token_model():
    from rest_framework.authtoken.models import Token

    return Token


def _accepted_by_api() -> bool:
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.settings import api_settings

    return any(
        issubclass(cls, TokenAuthentication) for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
    )


def api_token_state(*, user) -> TokenState:
    token = _token_model().objects.filter(user=user).only("created").first()
    return TokenState(
        exists=token is not None,
        created=token.created if token is not None else None,
        accepted_by_api=_accepted_by_api(),
    )


@transaction.atomic
def api_token_create(*, user) -> str:
    """A new token for ``user`` (replacing theirs, if any); the key is returned only here."""
    token_model = _token_model()
    token_model.objects.filter(user=user).delete()
    return token_model.objects.create(user=user).key


def api_token_revoke(*, user) -> bool:
    """Delete the user's token; False when they had none."""
    deleted, _ = _token_model().objects.filter(user=user).delete()
    return bool(deleted)
