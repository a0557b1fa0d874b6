"""What the commands that talk to the provider share."""

from __future__ import annotations

from django.core.management.base import CommandError

from videogen.services.connectivity import ProviderUnreachable, provider_check


def require_provider() -> None:
    """Fail the command at once, with the reason, when the provider cannot be used."""
    try:
        provider_check()
    except ProviderUnreachable as err:
        raise CommandError(str(err)) from err
