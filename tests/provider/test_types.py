"""The wire-JSON dataclasses: what they accept, what they refuse, how they degrade."""

from __future__ import annotations

import json
import logging
from dataclasses import FrozenInstanceError
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videogen.provider.types import (
    TERMINAL_STATUSES,
    VideoJobSnapshot,
    VideoModelInfo,
    VideoStatus,
    VideoUsage,
    parse_status,
)


def wire(data) -> dict:
    """Round-trip through JSON as the client decodes it (non-integers as Decimal)."""
    return json.loads(json.dumps(data), parse_float=Decimal)


JOB = {
    "generation_id": "gen-xyz789",
    "id": "job-abc123",
    "polling_url": "/api/v1/videos/job-abc123",
    "status": "completed",
    "unsigned_urls": ["https://storage.example.com/video.mp4"],
    "usage": {"cost": 0.5},
}

MODEL = {
    "allowed_passthrough_parameters": [],
    "canonical_slug": "google/veo-3.1",
    "created": 1700000000,
    "description": "Google video generation model",
    "generate_audio": True,
    "id": "google/veo-3.1",
    "name": "Veo 3.1",
    "pricing_skus": {"generate": "0.50"},
    "seed": None,
    "supported_aspect_ratios": ["16:9"],
    "supported_durations": [5, 8],
    "supported_frame_images": ["first_frame", "last_frame"],
    "supported_resolutions": ["720p"],
    "supported_sizes": None,
}


# --- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("pending", VideoStatus.PENDING),
        ("in_progress", VideoStatus.IN_PROGRESS),
        ("completed", VideoStatus.COMPLETED),
        ("failed", VideoStatus.FAILED),
        ("cancelled", VideoStatus.CANCELLED),
        ("expired", VideoStatus.EXPIRED),
    ],
)
def test_parse_status_known(value, status):
    assert parse_status(value) is status


@pytest.mark.parametrize("value", ["unknown", "COMPLETED", "queued", "", None, 3, ["pending"]])
def test_parse_status_unknown_is_logged_not_raised(value, caplog):
    with caplog.at_level(logging.WARNING, logger="videogen.provider.types"):
        assert parse_status(value) is VideoStatus.UNKNOWN
    assert "unknown provider video status" in caplog.text


def test_terminal_statuses():
    assert (
        {s for s in VideoStatus if s.is_terminal}
        == set(TERMINAL_STATUSES)
        == {
            VideoStatus.COMPLETED,
            VideoStatus.FAILED,
            VideoStatus.CANCELLED,
            VideoStatus.EXPIRED,
        }
    )
    assert not VideoStatus.UNKNOWN.is_terminal


# --- VideoJobSnapshot ----------------------------------------------------------------------


def test_snapshot_from_the_spec_example():
    snapshot = VideoJobSnapshot.from_json(wire(JOB))
    assert snapshot.id == "job-abc123"
    assert snapshot.status is VideoStatus.COMPLETED
    assert snapshot.raw_status == "completed"
    assert snapshot.polling_url == "/api/v1/videos/job-abc123"
    assert snapshot.generation_id == "gen-xyz789"
    assert snapshot.unsigned_urls == ("https://storage.example.com/video.mp4",)
    assert snapshot.usage == VideoUsage(cost=Decimal("0.5"), is_byok=False)
    assert snapshot.error is None
    assert snapshot.is_terminal


def test_snapshot_is_frozen_and_raw_is_not_compared():
    a = VideoJobSnapshot.from_json(wire(JOB))
    b = VideoJobSnapshot.from_json(wire({**JOB, "extra": "ignored"}))
    assert a == b
    assert b.raw["extra"] == "ignored"
    with pytest.raises(FrozenInstanceError):
        a.status = VideoStatus.FAILED


def test_snapshot_minimal_fields():
    snapshot = VideoJobSnapshot.from_json({"id": "job-1", "status": "pending"})
    assert snapshot.polling_url == ""
    assert snapshot.generation_id is None
    assert snapshot.unsigned_urls == ()
    assert snapshot.usage is None
    assert snapshot.error is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"status": "pending"}, "id"),
        ({"id": "", "status": "pending"}, "id"),
        ({"id": None, "status": "pending"}, "id"),
        ({"id": 123, "status": "pending"}, "id"),
        ({"id": "job-1"}, "status"),
        ({"id": "job-1", "status": None}, "status"),
        ({"id": "job-1", "status": 1}, "status"),
    ],
)
def test_snapshot_requires_id_and_status(data, match):
    with pytest.raises(ValueError, match=match):
        VideoJobSnapshot.from_json(data)


@pytest.mark.parametrize("data", [None, [], "job-1", 1])
def test_snapshot_requires_an_object(data):
    with pytest.raises(ValueError, match="object"):
        VideoJobSnapshot.from_json(data)


def test_snapshot_unknown_status_keeps_the_raw_value(caplog):
    with caplog.at_level(logging.WARNING, logger="videogen.provider.types"):
        snapshot = VideoJobSnapshot.from_json({"id": "job-1", "status": "rendering"})
    assert snapshot.status is VideoStatus.UNKNOWN
    assert snapshot.raw_status == "rendering"
    assert not snapshot.is_terminal
    assert "rendering" in caplog.text


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("content policy violation", "content policy violation"),
        ({"code": 400, "message": "content policy violation"}, "content policy violation"),
        ({"code": 500}, None),
        ({"message": None}, None),
        (42, "42"),
        (None, None),
    ],
    ids=["string", "dict", "dict-without-message", "dict-null-message", "number", "null"],
)
def test_snapshot_error_shapes(error, expected):
    snapshot = VideoJobSnapshot.from_json({"id": "job-1", "status": "failed", "error": error})
    assert snapshot.error == expected


def test_snapshot_unsigned_urls_must_be_a_list():
    snapshot = VideoJobSnapshot.from_json(
        {"id": "job-1", "status": "completed", "unsigned_urls": "https://x/video.mp4"}
    )
    assert snapshot.unsigned_urls == ()


def test_snapshot_generation_id_falsy_is_none():
    snapshot = VideoJobSnapshot.from_json({"id": "job-1", "status": "pending", "generation_id": ""})
    assert snapshot.generation_id is None


# --- VideoUsage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"cost": None, "is_byok": True}, VideoUsage(cost=None, is_byok=True)),
        ({}, VideoUsage(cost=None, is_byok=False)),
        ({"cost": Decimal("0.1")}, VideoUsage(cost=Decimal("0.1"))),
        ({"cost": 2}, VideoUsage(cost=Decimal("2"))),
        ({"cost": "0.25"}, VideoUsage(cost=Decimal("0.25"))),
        ({"cost": 0.1}, VideoUsage(cost=Decimal("0.1"))),
        ({"cost": True}, VideoUsage(cost=None)),
        ({"cost": "abc"}, VideoUsage(cost=None)),
        ({"cost": "NaN"}, VideoUsage(cost=None)),
        ({"cost": "Infinity"}, VideoUsage(cost=None)),
        ({"cost": float("inf")}, VideoUsage(cost=None)),
        ({"cost": [1]}, VideoUsage(cost=None)),
    ],
    ids=[
        "null-cost",
        "empty",
        "decimal",
        "int",
        "string",
        "float",
        "bool",
        "garbage-string",
        "nan-string",
        "infinity-string",
        "float-inf",
        "list",
    ],
)
def test_usage_from_json(usage, expected):
    assert VideoUsage.from_json(usage) == expected


@pytest.mark.parametrize("usage", [None, [], "0.5", 0.5])
def test_usage_not_an_object_is_none(usage):
    assert VideoUsage.from_json(usage) is None


def test_snapshot_with_null_usage():
    snapshot = VideoJobSnapshot.from_json({"id": "job-1", "status": "completed", "usage": None})
    assert snapshot.usage is None


def test_snapshot_with_null_cost():
    snapshot = VideoJobSnapshot.from_json(
        {"id": "job-1", "status": "completed", "usage": {"cost": None, "is_byok": True}}
    )
    assert snapshot.usage == VideoUsage(cost=None, is_byok=True)


# --- VideoModelInfo ------------------------------------------------------------------------


def test_model_from_the_spec_example():
    model = VideoModelInfo.from_json(wire(MODEL))
    assert model.id == "google/veo-3.1"
    assert model.canonical_slug == "google/veo-3.1"
    assert model.name == "Veo 3.1"
    assert model.description == "Google video generation model"
    assert model.created == 1700000000
    assert model.supported_durations == (5, 8)
    assert model.supported_resolutions == ("720p",)
    assert model.supported_aspect_ratios == ("16:9",)
    assert model.supported_sizes is None
    assert model.supported_frame_images == ("first_frame", "last_frame")
    assert model.generate_audio is True
    assert model.seed is None
    assert model.pricing_skus == {"generate": "0.50"}
    assert model.allowed_passthrough_parameters == ()


def test_model_minimal_defaults_to_its_id():
    model = VideoModelInfo.from_json({"id": "acme/clip-1"})
    assert model.canonical_slug == "acme/clip-1"
    assert model.name == "acme/clip-1"
    assert model.description == ""
    assert model.created is None
    assert model.supported_durations is None
    assert model.supported_resolutions is None
    assert model.supported_aspect_ratios is None
    assert model.supported_sizes is None
    assert model.supported_frame_images is None
    assert model.generate_audio is None
    assert model.seed is None
    assert model.pricing_skus is None
    assert model.allowed_passthrough_parameters == ()


@pytest.mark.parametrize("data", [{}, {"id": None}, {"id": 7}, {"name": "no id"}, [], None])
def test_model_requires_an_id(data):
    with pytest.raises(ValueError, match="id"):
        VideoModelInfo.from_json(data)


def test_model_field_shapes_are_normalised():
    model = VideoModelInfo.from_json(
        wire(
            {
                "id": "acme/clip-1",
                "created": "1700000000",
                "generate_audio": "yes",
                "seed": False,
                "supported_sizes": ["1280x720", "720x1280"],
                "supported_durations": "5,8",
                "pricing_skus": {"per_second": 0.1, "generate": "0.50"},
                "allowed_passthrough_parameters": ["negative_prompt", 3],
            }
        )
    )
    assert model.created is None  # not an integer on the wire
    assert model.generate_audio is None  # not a boolean on the wire
    assert model.seed is False
    assert model.supported_sizes == ("1280x720", "720x1280")
    assert model.supported_durations is None  # not a list
    assert model.pricing_skus == {"per_second": "0.1", "generate": "0.50"}
    assert model.allowed_passthrough_parameters == ("negative_prompt", "3")


def test_model_pricing_skus_not_an_object():
    assert VideoModelInfo.from_json({"id": "m", "pricing_skus": ["0.5"]}).pricing_skus is None


# --- properties ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
job_keys = st.sampled_from(
    ["id", "status", "polling_url", "error", "generation_id", "unsigned_urls", "usage"]
)


@given(st.dictionaries(job_keys, json_values))
def test_snapshot_from_any_json_returns_or_raises_value_error(data):
    try:
        snapshot = VideoJobSnapshot.from_json(wire(data))
    except ValueError:
        return
    assert isinstance(snapshot.status, VideoStatus)
    assert snapshot.usage is None or snapshot.usage.cost is None or snapshot.usage.cost.is_finite()


model_keys = st.sampled_from([*MODEL.keys(), "creativity", "upscale_factor"])


@given(st.dictionaries(model_keys, json_values))
def test_model_from_any_json_returns_or_raises_value_error(data):
    try:
        model = VideoModelInfo.from_json(wire(data))
    except ValueError:
        return
    assert isinstance(model.id, str)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=12))
def test_usage_cost_survives_the_wire_exactly(cost):
    body = '{"cost": ' + str(cost) + "}"
    usage = VideoUsage.from_json(json.loads(body, parse_float=Decimal))
    assert usage.cost == cost
