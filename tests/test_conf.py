import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from videogen.conf import DEFAULTS, videogen_settings


def test_defaults_apply_when_not_overridden():
    with override_settings(VIDEOGEN={}):
        assert DEFAULTS["POLL_CONCURRENCY"] == videogen_settings.POLL_CONCURRENCY
        assert videogen_settings.WEBHOOK_TOLERANCE_SECONDS == 300


def test_override_settings_is_seen_without_restart():
    with override_settings(VIDEOGEN={"POLL_CONCURRENCY": 7}):
        assert videogen_settings.POLL_CONCURRENCY == 7
    assert videogen_settings.POLL_CONCURRENCY != 7 or DEFAULTS["POLL_CONCURRENCY"] == 7


def test_unknown_key_is_a_configuration_error_naming_the_key():
    with (
        override_settings(VIDEOGEN={"POLL_CONCURENCY": 7}),
        pytest.raises(ImproperlyConfigured, match="POLL_CONCURENCY"),
    ):
        _ = videogen_settings.POLL_CONCURRENCY


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError):
        _ = videogen_settings.NOT_A_SETTING
