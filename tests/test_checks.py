from django.test import override_settings

from videogen.checks import check_videogen_settings


def ids(messages):
    return sorted(m.id for m in messages)


def test_simulator_needs_no_key_or_secret():
    with override_settings(VIDEOGEN={"SIMULATOR": True, "API_KEY": None}):
        assert check_videogen_settings() == []


def test_missing_api_key_outside_simulator_is_an_error():
    with override_settings(VIDEOGEN={"SIMULATOR": False, "WEBHOOK_SECRETS": ["s"]}):
        assert ids(check_videogen_settings()) == ["videogen.E001"]


def test_missing_webhook_secret_outside_simulator_is_a_warning():
    with override_settings(VIDEOGEN={"SIMULATOR": False, "API_KEY": "k"}):
        assert ids(check_videogen_settings()) == ["videogen.W001"]


def test_unsigned_webhooks_allowed_warns():
    with override_settings(VIDEOGEN={"SIMULATOR": True, "WEBHOOK_ALLOW_UNSIGNED": True}):
        assert ids(check_videogen_settings()) == ["videogen.W002"]


def test_a_secret_given_as_a_string_is_one_secret_not_an_error():
    with override_settings(
        VIDEOGEN={"SIMULATOR": False, "API_KEY": "k", "WEBHOOK_SECRETS": "one-secret"}
    ):
        assert check_videogen_settings() == []


def test_a_value_of_the_wrong_type_is_reported_naming_the_key():
    with override_settings(VIDEOGEN={"WEBHOOK_SECRETS": 42}):
        (message,) = check_videogen_settings()
    assert message.id == "videogen.E000" and "WEBHOOK_SECRETS" in message.msg


def test_unknown_key_is_reported_not_raised():
    with override_settings(VIDEOGEN={"TYPO": 1}):
        assert ids(check_videogen_settings()) == ["videogen.E000"]
