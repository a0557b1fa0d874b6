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


# --- values validated when read (issue #13) ---------------------------------------------------


def read_all():
    return {key: getattr(videogen_settings, key) for key in DEFAULTS}


def test_secrets_given_as_a_string_are_one_secret():
    with override_settings(VIDEOGEN={"WEBHOOK_SECRETS": "whsec_one"}):
        assert videogen_settings.WEBHOOK_SECRETS == ["whsec_one"]


def test_secrets_given_as_a_tuple_are_a_list():
    with override_settings(VIDEOGEN={"WEBHOOK_SECRETS": ("new", "old")}):
        assert videogen_settings.WEBHOOK_SECRETS == ["new", "old"]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (42, "not int"),
        ({"s": 1}, "not dict"),
        (b"whsec", "not bytes"),
        (None, "not NoneType"),
        (["ok", ""], "item 1 must be a non-empty string, not an empty string"),
        (["ok", 7], "item 1 must be a non-empty string, not int"),
        (["bad\nsecret"], "item 0 contains unprintable characters"),
        (["\ud800"], "item 0 contains unprintable characters"),
    ],
)
def test_secrets_of_another_shape_are_refused_naming_the_key_and_the_types(value, named):
    with (
        override_settings(VIDEOGEN={"WEBHOOK_SECRETS": value}),
        pytest.raises(ImproperlyConfigured) as err,
    ):
        _ = videogen_settings.API_KEY  # any read validates every key
    message = str(err.value)
    assert "VIDEOGEN['WEBHOOK_SECRETS']" in message and named in message
    if "item" not in named:
        assert "a string or a list of non-empty strings" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("POLL_CONCURRENCY", "8", "must be an integer, not str"),
        ("POLL_CONCURRENCY", 8.0, "must be an integer, not float"),
        ("POLL_CONCURRENCY", True, "must be an integer, not bool"),
        ("POLL_CONCURRENCY", 0, "must be at least 1"),
        ("READ_TIMEOUT", "30", "must be a number of seconds, not str"),
        ("READ_TIMEOUT", 0, "must be greater than 0"),
        ("POLL_INITIAL_DELAY_SECONDS", -1, "must be at least 0"),
        ("SIMULATOR", "false", "must be a boolean, not str"),
        ("WEBHOOK_ALLOW_UNSIGNED", 1, "must be a boolean, not int"),
        ("API_KEY", 12345, "must be a string or None, not int"),
        ("BASE_URL", None, "must be a string, not NoneType"),
        ("WEBHOOK_RETENTION_DAYS", 0, "must be at least 1"),
        ("OUTPUT_RETENTION_DAYS", "30", "must be an integer or None, not str"),
    ],
)
def test_a_value_of_the_wrong_type_fails_fast_with_the_key_named(key, value, expected):
    with override_settings(VIDEOGEN={key: value}), pytest.raises(ImproperlyConfigured) as err:
        read_all()
    assert str(err.value).startswith(f"VIDEOGEN[{key!r}] {expected}")


def test_validation_runs_again_on_reload():
    with override_settings(VIDEOGEN={"POLL_CONCURRENCY": 4}):
        assert videogen_settings.POLL_CONCURRENCY == 4
        with (
            override_settings(VIDEOGEN={"POLL_CONCURRENCY": "4"}),
            pytest.raises(ImproperlyConfigured, match="POLL_CONCURRENCY"),
        ):
            _ = videogen_settings.POLL_CONCURRENCY
        assert videogen_settings.POLL_CONCURRENCY == 4


def test_numbers_and_optional_values_in_their_documented_forms_are_accepted():
    values = {
        "READ_TIMEOUT": 0.2,
        "CONNECT_TIMEOUT": 3,
        "POLL_INITIAL_DELAY_SECONDS": 0,
        "OUTPUT_RETENTION_DAYS": None,
        "WEBHOOK_RETENTION_DAYS": None,
        "API_KEY": None,
    }
    with override_settings(VIDEOGEN=values):
        assert {key: getattr(videogen_settings, key) for key in values} == values


def test_a_key_without_a_rule_accepts_any_value(monkeypatch):
    monkeypatch.setitem(DEFAULTS, "SOME_NEW_KEY", 1)
    with override_settings(VIDEOGEN={"SOME_NEW_KEY": ["anything", {"at": "all"}]}):
        assert videogen_settings.SOME_NEW_KEY == ["anything", {"at": "all"}]


def test_choices_are_enforced(monkeypatch):
    from videogen.conf import RULES, Rule

    monkeypatch.setitem(DEFAULTS, "SOME_MODE", "fast")
    monkeypatch.setitem(RULES, "SOME_MODE", Rule((str,), "a string", choices=("fast", "safe")))
    with override_settings(VIDEOGEN={"SOME_MODE": "safe"}):
        assert videogen_settings.SOME_MODE == "safe"
    with (
        override_settings(VIDEOGEN={"SOME_MODE": "reckless"}),
        pytest.raises(ImproperlyConfigured, match=r"must be one of 'fast', 'safe'"),
    ):
        _ = videogen_settings.SOME_MODE


def test_videogen_that_is_not_a_dict_is_refused():
    with (
        override_settings(VIDEOGEN=[("API_KEY", "k")]),
        pytest.raises(ImproperlyConfigured, match="must be a dict"),
    ):
        _ = videogen_settings.API_KEY


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ('{"WEBHOOK_SECRETS": 7}', "VIDEOGEN['WEBHOOK_SECRETS'] must be a string or a list"),
        ('{"POLL_CONCURRENCY": "64"}', "VIDEOGEN['POLL_CONCURRENCY'] must be an integer, not str"),
    ],
)
def test_a_process_with_a_bad_value_refuses_to_start(overrides, named, tmp_path):
    # What gunicorn or the qcluster would do at boot (no system check runs there).
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "VIDEOGEN_OVERRIDES": overrides,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db",
    }
    code = "import django; django.setup(); print('started')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**env, "DJANGO_SETTINGS_MODULE": "project.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "started" not in result.stdout
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr


def test_every_setting_has_a_validation_rule():
    from videogen.conf import DEFAULTS, RULES

    assert set(DEFAULTS) - set(RULES) == set()
