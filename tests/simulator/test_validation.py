"""Request validation: every capability violation is a 400 that says what is wrong."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videogen.simulator.catalog import ASPECT_RATIOS, RESOLUTIONS, Catalog
from videogen.simulator.config import SimulatorConfig
from videogen.simulator.validation import RequestError, validate_request

FRAME = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
VEO = {"model": "google/veo-3.1", "prompt": "A lighthouse at dawn"}
SORA = {"model": "openai/sora-2", "prompt": "A lighthouse at dawn"}
SEEDANCE = {"model": "bytedance/seedance-1-pro", "prompt": "A lighthouse at dawn"}
KLING = {"model": "kwaivgi/kling-2.1", "prompt": "A lighthouse at dawn"}
HAILUO = {"model": "minimax/hailuo-02", "prompt": "A lighthouse at dawn"}

REJECTED = [
    pytest.param({"prompt": "x"}, "model", id="missing-model"),
    pytest.param({"model": "acme/nope", "prompt": "x"}, "acme/nope", id="unknown-model"),
    pytest.param({**VEO, "duration": 5}, "duration 5", id="duration-not-supported"),
    pytest.param({**VEO, "duration": 0}, "at least 1", id="duration-zero"),
    pytest.param({**VEO, "duration": "8"}, "integer", id="duration-string"),
    pytest.param({**VEO, "duration": 8.5}, "integer", id="duration-float"),
    pytest.param({**VEO, "resolution": "4K"}, "resolution", id="resolution-not-supported"),
    pytest.param({**VEO, "resolution": "8K"}, "resolution", id="resolution-not-in-spec"),
    pytest.param({**VEO, "aspect_ratio": "1:1"}, "aspect_ratio", id="aspect-not-supported"),
    pytest.param({**VEO, "aspect_ratio": "5:4"}, "aspect_ratio", id="aspect-not-in-spec"),
    pytest.param({**SORA, "size": "1920x1080"}, "size", id="size-not-in-supported-sizes"),
    pytest.param({**SORA, "size": "big"}, "WIDTHxHEIGHT", id="size-malformed"),
    pytest.param({**VEO, "size": "1080x1080"}, "aspect ratio", id="size-aspect-unsupported"),
    pytest.param({**VEO, "size": "854x480"}, "resolution", id="size-resolution-unsupported"),
    pytest.param(
        {**VEO, "size": "1280x720", "resolution": "1080p"}, "conflicts", id="size-conflict"
    ),
    pytest.param({**SEEDANCE, "generate_audio": True}, "generate_audio", id="audio-unsupported"),
    pytest.param({**KLING, "generate_audio": True}, "generate_audio", id="audio-null-capability"),
    pytest.param({**VEO, "generate_audio": "yes"}, "boolean", id="audio-not-bool"),
    pytest.param({**SORA, "seed": 7}, "seed", id="seed-unsupported"),
    pytest.param({**VEO, "seed": "7"}, "integer", id="seed-not-int"),
    pytest.param(
        {**HAILUO, "frame_images": [{**FRAME, "frame_type": "first_frame"}]},
        "frame_images",
        id="frames-unsupported",
    ),
    pytest.param(
        {**SORA, "frame_images": [{**FRAME, "frame_type": "last_frame"}]},
        "last_frame",
        id="frame-type-unsupported",
    ),
    pytest.param(
        {**VEO, "frame_images": [{**FRAME, "frame_type": "middle"}]},
        "frame_type",
        id="frame-type-not-in-spec",
    ),
    pytest.param(
        {**VEO, "frame_images": [{**FRAME, "frame_type": "first_frame"}] * 2},
        "more than once",
        id="frame-type-twice",
    ),
    pytest.param(
        {**VEO, "frame_images": [{"type": "image_url", "frame_type": "first_frame"}]},
        "image_url",
        id="frame-without-url",
    ),
    pytest.param(
        {**VEO, "input_references": [{"type": "text", "text": "x"}]},
        "input_references",
        id="reference-bad-type",
    ),
    pytest.param(
        {**VEO, "input_references": [{"type": "audio_url", "audio_url": {}}]},
        "audio_url",
        id="reference-without-url",
    ),
    pytest.param(
        {**VEO, "provider": {"options": {"google-vertex": {"parameters": {"temperature": 1}}}}},
        "temperature",
        id="passthrough-not-allowed",
    ),
    pytest.param(
        {**SORA, "provider": {"options": {"openai": {"style": "anime"}}}},
        "style",
        id="passthrough-none-allowed",
    ),
    pytest.param({**VEO, "provider": {"options": []}}, "provider.options", id="options-not-obj"),
    pytest.param({**VEO, "callback_url": "http://example.com/hook"}, "HTTPS", id="callback-http"),
    pytest.param({**VEO, "callback_url": "ftp://example.com/x"}, "https", id="callback-scheme"),
    pytest.param({**VEO, "callback_url": "not a url"}, "https", id="callback-relative"),
    pytest.param({**VEO, "creativity": 1}, "upscaling", id="creativity"),
    pytest.param({**VEO, "upscale_factor": 2}, "upscaling", id="upscale-factor"),
    pytest.param({"model": "google/veo-3.1"}, "prompt", id="prompt-missing"),
    pytest.param({"model": "minimax/hailuo-02", "prompt": "  "}, "prompt", id="prompt-blank"),
    pytest.param({**VEO, "prompt": 5}, "prompt", id="prompt-not-string"),
    pytest.param(["not", "an", "object"], "object", id="body-not-object"),
]


@pytest.mark.parametrize(("body", "needle"), REJECTED)
def test_capability_violations_are_400(
    simulator, simulator_session, openrouter_schema, body, needle
):
    response = simulator_session.post(simulator.url("/videos"), json=body)

    assert response.status_code == 400, response.text
    openrouter_schema(response.json(), "BadRequestResponse")
    assert response.json()["error"]["code"] == 400
    assert needle in response.json()["error"]["message"]
    assert len(simulator.state) == 0


ACCEPTED = [
    pytest.param({**VEO, "duration": 8, "resolution": "1080p", "aspect_ratio": "9:16"}, id="veo"),
    pytest.param({**VEO, "size": "1280x720"}, id="size-maps-to-capabilities"),
    pytest.param({**VEO, "size": "1920x1080", "resolution": "1080p"}, id="size-agrees"),
    pytest.param({**SORA, "size": "720x1280", "duration": 12}, id="sora-size"),
    pytest.param({**VEO, "seed": 42, "generate_audio": False}, id="seed-and-no-audio"),
    pytest.param({**SEEDANCE, "generate_audio": False}, id="audio-false-when-unsupported"),
    pytest.param(
        {
            "model": "kwaivgi/kling-2.1",
            "frame_images": [{**FRAME, "frame_type": "first_frame"}],
        },
        id="no-prompt-with-frame",
    ),
    pytest.param(
        {
            **VEO,
            "frame_images": [
                {**FRAME, "frame_type": "first_frame"},
                {**FRAME, "frame_type": "last_frame"},
            ],
        },
        id="first-and-last-frames",
    ),
    pytest.param(
        {
            **VEO,
            "input_references": [
                {"type": "image_url", "image_url": {"url": "https://e.com/i.png"}},
                {"type": "audio_url", "audio_url": {"url": "https://e.com/a.mp3"}},
                {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}},
            ],
        },
        id="references",
    ),
    pytest.param(
        {**VEO, "provider": {"options": {"google-vertex": {"negative_prompt": "blur"}}}},
        id="passthrough-flat",
    ),
    pytest.param(
        {**SEEDANCE, "provider": {"options": {"byteplus": {"parameters": {"watermark": False}}}}},
        id="passthrough-parameters",
    ),
    pytest.param({**VEO, "callback_url": "https://example.com/hook"}, id="callback-https"),
    pytest.param({**VEO, "callback_url": "http://127.0.0.1:8000/hook"}, id="callback-local"),
    pytest.param({**VEO, "callback_url": "http://localhost/hook"}, id="callback-localhost"),
    pytest.param({**VEO, "unknown_extra": 1}, id="extra-keys-ignored"),
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_valid_requests_are_accepted(simulator, simulator_session, openrouter_schema, body):
    openrouter_schema(body, "VideoGenerationRequest")
    response = simulator_session.post(simulator.url("/videos"), json=body)
    assert response.status_code == 202, response.text


def test_malformed_json_is_400(simulator, simulator_session, openrouter_schema):
    response = simulator_session.post(
        simulator.url("/videos"),
        data=b'{"model": "google/veo-3.1",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    openrouter_schema(response.json(), "BadRequestResponse")
    assert "JSON" in response.json()["error"]["message"]


def test_http_callbacks_can_be_allowed_for_any_host():
    catalog = Catalog()
    body = {**VEO, "callback_url": "http://web:8000/hook"}
    with pytest.raises(RequestError):
        validate_request(body, catalog=catalog, config=SimulatorConfig())
    validate_request(body, catalog=catalog, config=SimulatorConfig(allow_http_callbacks=True))
    with pytest.raises(RequestError):
        validate_request(
            {**VEO, "callback_url": "http://127.0.0.1/hook"},
            catalog=catalog,
            config=SimulatorConfig(http_callback_hosts=()),
        )


_requests = st.fixed_dictionaries(
    {"model": st.sampled_from([m.id for m in Catalog()])},
    optional={
        "prompt": st.text(max_size=5),
        "duration": st.integers(-2, 14),
        "resolution": st.sampled_from(RESOLUTIONS),
        "aspect_ratio": st.sampled_from(ASPECT_RATIOS),
        "size": st.sampled_from(["1280x720", "720x1280", "1920x1080", "640x480", "2x"]),
        "seed": st.integers(-5, 5),
        "generate_audio": st.booleans(),
        "frame_images": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.just("image_url"),
                    "image_url": st.just({"url": "https://e.com/i.png"}),
                    "frame_type": st.sampled_from(["first_frame", "last_frame"]),
                }
            ),
            max_size=2,
        ),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_requests)
def test_whatever_is_accepted_is_spec_valid_and_within_capabilities(openrouter_schema, body):
    catalog = Catalog()
    try:
        model, _ = validate_request(body, catalog=catalog, config=SimulatorConfig())
    except RequestError as err:
        assert err.status == 400 and err.message
        return
    openrouter_schema(body, "VideoGenerationRequest")
    if "duration" in body:
        assert body["duration"] in model.supported_durations
    if "resolution" in body:
        assert body["resolution"] in model.supported_resolutions
    if "aspect_ratio" in body:
        assert body["aspect_ratio"] in model.supported_aspect_ratios
    if body.get("generate_audio"):
        assert model.generate_audio is True
    if "seed" in body:
        assert model.seed is True
    if not (body.get("prompt") or "").strip():
        assert body.get("frame_images")
