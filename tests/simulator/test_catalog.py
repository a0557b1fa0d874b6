"""The catalog's shapes and the documented, deterministic cost formula."""

from __future__ import annotations

from decimal import Decimal

import pytest

from videogen.provider.types import VideoModelInfo
from videogen.simulator.catalog import (
    DEFAULT_MODELS,
    Catalog,
    aspect_ratio_for_size,
    compute_cost,
    parse_size,
    resolution_for_size,
)

CATALOG = Catalog()


@pytest.mark.parametrize(
    ("request_body", "cost"),
    [
        # per_second 0.20, per_second_audio 0.40; audio defaults to the model's flag (true).
        ({"model": "google/veo-3.1", "duration": 8}, "3.2"),
        ({"model": "google/veo-3.1", "duration": 8, "generate_audio": False}, "1.6"),
        ({"model": "google/veo-3.1"}, "1.6"),  # default duration 4 x 0.40
        # per_second 0.10 only: the audio flag finds no audio SKU and falls back.
        ({"model": "openai/sora-2", "duration": 12}, "1.2"),
        # per_second_<res>: chosen by resolution, or by the size's short side.
        ({"model": "bytedance/seedance-1-pro", "duration": 10, "resolution": "1080p"}, "1.5"),
        ({"model": "bytedance/seedance-1-pro", "duration": 5, "size": "854x480"}, "0.15"),
        ({"model": "bytedance/seedance-1-pro", "duration": 5}, "0.15"),  # default 480p
        # per_video_<d>s: a flat price per clip length.
        ({"model": "kwaivgi/kling-2.1", "duration": 10}, "0.9"),
        ({"model": "kwaivgi/kling-2.1"}, "0.45"),
        # generate: flat per job, whatever the duration.
        ({"model": "minimax/hailuo-02", "duration": 10}, "0.5"),
    ],
)
def test_cost_formula(request_body, cost):
    model = CATALOG.get(request_body["model"])
    assert compute_cost(model, request_body) == Decimal(cost)


def test_cost_is_rounded_to_micro_dollars():
    model = CATALOG.get("bytedance/seedance-1-pro")
    cost = compute_cost(model, {"duration": 5, "resolution": "720p"})
    assert cost.as_tuple().exponent == -6


def test_models_have_distinct_shapes():
    assert len(DEFAULT_MODELS) >= 4
    assert len({tuple(sorted(m.pricing_skus)) for m in DEFAULT_MODELS}) == len(DEFAULT_MODELS)
    assert [m.id for m in DEFAULT_MODELS if m.supported_sizes is not None] == ["openai/sora-2"]
    assert {m.generate_audio for m in DEFAULT_MODELS} == {True, False, None}
    assert {m.seed for m in DEFAULT_MODELS} == {True, False, None}
    assert any(not m.supported_frame_images for m in DEFAULT_MODELS)


def test_models_parse_with_the_provider_types():
    for spec in DEFAULT_MODELS:
        info = VideoModelInfo.from_json(spec.to_json())
        assert info.id == spec.id
        assert info.pricing_skus == spec.pricing_skus
        assert info.supported_durations == spec.supported_durations


def test_size_helpers():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size("0x720") is None
    assert parse_size("1280X720") is None
    assert resolution_for_size(720, 1280) == "720p"
    assert resolution_for_size(1000, 1000) is None
    assert aspect_ratio_for_size(854, 480) == "16:9"
    assert aspect_ratio_for_size(1080, 1920) == "9:16"
    assert aspect_ratio_for_size(1000, 100) is None
