"""Whether the video provider can be used at all, asked before a shell command starts work.

A command pointed at the wrong place (a stopped simulator, another port, a wrong key) would
otherwise create jobs and then wait, polling in vain. One cheap read (the model list) says
at once whether the provider answers and accepts the key.
"""

from __future__ import annotations

from videogen.conf import videogen_settings
from videogen.provider.client import get_client
from videogen.provider.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
)


class ProviderUnreachable(Exception):
    """The provider cannot be used; the message says why and what to check."""


def provider_check() -> None:
    """Raise ``ProviderUnreachable`` when the provider does not answer or refuses the key.

    Any other answer (even an error status) means it can be reached: the command goes on
    and reports that error where it happens.
    """
    base_url = videogen_settings.BASE_URL
    try:
        get_client().list_models()
    except (ProviderConnectionError, ProviderTimeout) as err:
        hint = (
            "Is the simulator running? `python manage.py videogen_simulator` starts one; in "
            "the videogen repository, `make run` does and writes its address to .run/env."
            if videogen_settings.SIMULATOR
            else "Check VIDEOGEN['BASE_URL'] and the network."
        )
        raise ProviderUnreachable(
            f"Cannot reach the video provider at {base_url}: {err}. {hint}"
        ) from err
    except ProviderAuthError as err:
        raise ProviderUnreachable(
            f"The video provider at {base_url} refused the API key ({err}). "
            "Check VIDEOGEN['API_KEY']."
        ) from err
    except ProviderError:
        return
