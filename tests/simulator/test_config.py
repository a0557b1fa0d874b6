"""Runtime config patches: validated all-or-nothing, secrets never echoed."""

from __future__ import annotations

import pytest

from videogen.simulator.config import ConfigError, SimulatorConfig


def test_patch_coerces_and_applies():
    config = SimulatorConfig()
    applied = config.apply_patch(
        {"latency_seconds": 1, "reset_rate": 0.5, "content_size_bytes": None, "seed": 9}
    )
    assert applied == {"latency_seconds": 1.0, "reset_rate": 0.5, "content_size_bytes": None,
                       "seed": 9}  # fmt: skip
    assert isinstance(config.latency_seconds, float)
    config.apply_patch({"http_callback_hosts": ["web"], "public_url": "http://sim:8001"})
    assert config.http_callback_hosts == ("web",)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"latency_seconds": 0.1, "nope": 1}, "unknown"),
        ({"port": 1}, "runtime"),
        ({"webhook_secret": "x"}, "runtime"),
        ({"malformed_rate": -0.1}, ">= 0"),
        ({"malformed_rate": 2}, "probability"),
        ({"webhook_max_attempts": 1.5}, "integer"),
        ({"webhook_max_attempts": True}, "boolean"),
        ({"pending_seconds": None}, "null"),
        ({"http_callback_hosts": "web"}, "list"),
    ],
)
def test_bad_patches_change_nothing(patch, message):
    config = SimulatorConfig()
    with pytest.raises(ConfigError, match=message):
        config.apply_patch(patch)
    assert config == SimulatorConfig()


def test_rates_are_checked_at_construction():
    with pytest.raises(ConfigError):
        SimulatorConfig(server_error_rate=1.1)


def test_public_dict_redacts_secrets():
    public = SimulatorConfig(api_key="sk-secret").public_dict()
    assert public["api_key"] == "***"
    assert public["webhook_secret"] == "***"
    assert "models" not in public
    assert public["http_callback_hosts"] == ["127.0.0.1", "localhost", "::1"]
