"""System checks for videogen's configuration (ids are stable: videogen.E001 …)."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from videogen.conf import videogen_settings


@checks.register()
def check_videogen_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    try:
        simulator = videogen_settings.SIMULATOR
    except ImproperlyConfigured as err:  # an unknown key, a value of the wrong type
        return [checks.Error(str(err), id="videogen.E000")]
    if not simulator and not videogen_settings.API_KEY:
        messages.append(
            checks.Error(
                "VIDEOGEN['API_KEY'] is not set.",
                hint="Set it to your OpenRouter API key (OPENROUTER_API_KEY in the demo site), "
                "or set VIDEOGEN['SIMULATOR'] = True to use the local simulator.",
                id="videogen.E001",
            )
        )
    if not simulator and not videogen_settings.WEBHOOK_SECRETS:
        messages.append(
            checks.Warning(
                "VIDEOGEN['WEBHOOK_SECRETS'] is empty: webhooks cannot be verified.",
                hint="Add the signing secret from your OpenRouter workspace settings "
                "(VIDEOGEN_WEBHOOK_SECRETS in the demo site).",
                id="videogen.W001",
            )
        )
    if videogen_settings.WEBHOOK_ALLOW_UNSIGNED:
        messages.append(
            checks.Warning(
                "VIDEOGEN['WEBHOOK_ALLOW_UNSIGNED'] is True: anyone can forge job updates.",
                hint="Only allow unsigned webhooks in local development.",
                id="videogen.W002",
            )
        )
    return messages
