"""validate_job_request: the spec's schema plus each model's capabilities from the catalog."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from videogen.models import VideoModel
from videogen.services.jobs import request as validation
from videogen.services.jobs.request import request_choices, validate_job_request

pytestmark = pytest.mark.django_db

VEO = "google/veo-3.1"  # frame images, audio, seed, passthrough; no exact sizes
SIZED = "acme/sized"  # exact sizes; no frames, audio or seed
OPEN = "acme/open"  # every capability null: the provider does not restrict
RETIRED = "acme/retired"

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
EMPTY = {
    "prompt": "",
    "aspect_ratio": "",
    "duration": None,
    "resolution": "",
    "size": "",
    "seed": None,
    "generate_audio": None,
    "frame_images": [],
    "input_references": [],
    "provider": None,
    "callback_url": "",
}


@pytest.fixture(autouse=True)
def strict(settings):
    """The real provider's rules (the test site defaults to the simulator)."""
    settings.VIDEOGEN = {"SIMULATOR": False}


@pytest.fixture
def simulator(settings):
    settings.VIDEOGEN = {"SIMULATOR": True}


@pytest.fixture(autouse=True)
def catalog():
    VideoModel.objects.create(
        model_id=VEO,
        name="Veo 3.1",
        supported_durations=[4, 6, 8],
        supported_resolutions=["720p", "1080p"],
        supported_aspect_ratios=["16:9", "9:16"],
        supported_sizes=None,
        supported_frame_images=["first_frame", "last_frame"],
        generate_audio=True,
        seed=True,
        allowed_passthrough_parameters=["output_config", "person_generation"],
    )
    VideoModel.objects.create(
        model_id=SIZED,
        name="Sized",
        supported_durations=[5, 10],
        supported_resolutions=["720p"],
        supported_aspect_ratios=["16:9"],
        supported_sizes=["1280x720", "720x1280"],
        supported_frame_images=[],
        generate_audio=False,
        seed=False,
    )
    VideoModel.objects.create(model_id=OPEN, name="Open")  # every supported_* is null
    VideoModel.objects.create(model_id=RETIRED, name="Retired", is_active=False)


@pytest.fixture
def empty_catalog():
    VideoModel.objects.all().delete()


def errors_of(data) -> dict[str, list[str]]:
    """{field: [codes]} of the ValidationError raised for ``data``."""
    with pytest.raises(ValidationError) as caught:
        validate_job_request(data)
    return {field: [e.code for e in errs] for field, errs in caught.value.error_dict.items()}


def messages_of(data) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        validate_job_request(data)
    return caught.value.message_dict


def frame(frame_type="first_frame", url="https://cdn.example.com/a.png", **extra):
    return {"type": "image_url", "image_url": {"url": url}, "frame_type": frame_type, **extra}


def ref(kind="image_url", url="https://cdn.example.com/a.png"):
    return {"type": kind, kind: {"url": url}}


# --- valid requests --------------------------------------------------------------------------


def test_minimal_request_returns_every_field_normalised():
    assert validate_job_request({"model": VEO, "prompt": "A fox"}) == {
        **EMPTY,
        "model": VEO,
        "prompt": "A fox",
    }


def test_full_request_is_returned_as_given():
    data = {
        "model": VEO,
        "prompt": "A fox in the snow",
        "aspect_ratio": "16:9",
        "duration": 8,
        "resolution": "1080p",
        "seed": -(2**63),
        "generate_audio": True,
        "frame_images": [frame("first_frame", PNG), frame("last_frame")],
        "input_references": [
            ref("image_url"),
            ref("audio_url", "https://cdn.example.com/a.mp3"),
            ref("video_url", "data:video/mp4;base64,AAAAGGZ0eXA="),
        ],
        "provider": {"options": {"google-vertex": {"parameters": {"output_config": {"a": 1}}}}},
        "callback_url": "https://example.com/hooks/videogen",
    }
    cleaned = validate_job_request(data)
    assert cleaned == {**data, "size": ""}
    assert list(cleaned) == list(validation.REQUEST_FIELDS)
    assert cleaned["frame_images"] is not data["frame_images"]  # a copy, safe to keep


def test_size_on_a_model_with_sizes():
    cleaned = validate_job_request({"model": SIZED, "prompt": "x", "size": "720x1280"})
    assert cleaned["size"] == "720x1280"


def test_nulls_and_empty_strings_count_as_omitted():
    data = {"model": VEO, "prompt": "x", **{k: None for k in EMPTY if k != "prompt"}}
    data.update(aspect_ratio="", resolution="", size="", callback_url="")
    assert validate_job_request(data) == {**EMPTY, "model": VEO, "prompt": "x"}


def test_null_capabilities_do_not_restrict():
    cleaned = validate_job_request(
        {"model": OPEN, "prompt": "x", "duration": 37, "resolution": "4K", "aspect_ratio": "9:21"}
    )
    assert (cleaned["duration"], cleaned["resolution"], cleaned["aspect_ratio"]) == (
        37,
        "4K",
        "9:21",
    )


def test_generate_audio_false_is_always_fine():
    assert (
        validate_job_request({"model": SIZED, "prompt": "x", "generate_audio": False})[
            "generate_audio"
        ]
        is False
    )


# --- the whole request -----------------------------------------------------------------------


@pytest.mark.parametrize("data", [None, [], "model", 3])
def test_request_must_be_an_object(data):
    assert errors_of(data) == {NON_FIELD_ERRORS: ["invalid_type"]}


def test_unknown_fields_are_each_named():
    messages = messages_of({"model": VEO, "prompt": "x", "fps": 24, "Model": "y"})
    assert set(messages) == {"fps", "Model"}
    assert "Unknown field “fps”" in messages["fps"][0]
    assert "callback_url" in messages["fps"][0]  # names the allowed fields
    assert errors_of({"model": VEO, "prompt": "x", "fps": 24}) == {"fps": ["unknown_field"]}


@pytest.mark.parametrize("field", ["creativity", "upscale_factor"])
def test_upscaling_parameters_are_rejected_with_a_clear_message(field):
    data = {"model": VEO, "prompt": "x", field: 2}
    assert errors_of(data) == {field: ["upscaling_only"]}
    assert "upscaling models" in messages_of(data)[field][0]


def test_request_over_the_size_limit(monkeypatch):
    monkeypatch.setattr(validation, "MAX_REQUEST_BYTES", 1000)
    data = {"model": VEO, "prompt": "x" * 2000}
    assert errors_of(data) == {NON_FIELD_ERRORS: ["too_large"]}


def test_all_errors_are_reported_at_once():
    errors = errors_of(
        {
            "model": SIZED,
            "aspect_ratio": "5:4",
            "duration": 0,
            "resolution": "1080p",
            "size": "big",
            "seed": 1,
            "generate_audio": "yes",
            "frame_images": [frame()],
            "input_references": [ref("text_url")],
            "provider": {"options": {"acme": {"foo": 1}}},
            "callback_url": "http://example.com/",
            "fps": 1,
        }
    )
    assert errors == {
        "fps": ["unknown_field"],
        "aspect_ratio": ["invalid_choice"],
        "duration": ["min_value"],
        "resolution": ["unsupported_by_model"],
        "size": ["invalid_format"],
        "seed": ["unsupported_by_model"],
        "generate_audio": ["invalid_type"],
        "frame_images": ["unsupported_by_model"],
        "input_references": ["invalid_choice"],
        "provider": ["unsupported_by_model"],
        "callback_url": ["insecure_url"],
        "prompt": ["required"],
    }


# --- model -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"), [(None, "required"), ("", "required"), (3, "invalid_type")]
)
def test_model_is_a_required_string(value, code):
    data = {"prompt": "x"} if value is None else {"model": value, "prompt": "x"}
    assert errors_of(data) == {"model": [code]}


def test_unknown_model_lists_the_active_ones():
    message = messages_of({"model": "nope/nope", "prompt": "x"})["model"][0]
    assert errors_of({"model": "nope/nope", "prompt": "x"}) == {"model": ["unknown_model"]}
    assert f"{SIZED}, {OPEN}" not in message  # sorted: acme/open, acme/sized, google/veo-3.1
    assert f"{OPEN}, {SIZED}, {VEO}" in message
    assert RETIRED not in message


def test_inactive_model_is_unknown():
    assert errors_of({"model": RETIRED, "prompt": "x"}) == {"model": ["unknown_model"]}
    assert "no longer offered" in messages_of({"model": RETIRED, "prompt": "x"})["model"][0]


@pytest.mark.parametrize(
    ("model_id", "code"),
    [("x" * 500, "max_length"), ("a\x00b", "null_characters"), ("a\ud800", "invalid_characters")],
)
def test_model_ids_the_database_cannot_hold_are_refused_before_any_lookup(
    model_id, code, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert errors_of({"model": model_id, "prompt": "x"}) == {"model": [code]}


@pytest.mark.usefixtures("empty_catalog")
def test_empty_catalog_says_to_sync():
    data = {"model": VEO, "prompt": "x"}
    assert errors_of(data) == {"model": ["catalog_empty"]}
    assert "python manage.py videogen_sync_models" in messages_of(data)["model"][0]


@pytest.mark.usefixtures("empty_catalog")
def test_empty_catalog_still_reports_schema_errors():
    assert errors_of({"model": VEO, "duration": "8"}) == {
        "model": ["catalog_empty"],
        "duration": ["invalid_type"],
        "prompt": ["required"],
    }


# --- strict types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", True),
        ("duration", 8.0),
        ("duration", "8"),
        ("seed", False),
        ("seed", 1.5),
        ("seed", "42"),
        ("generate_audio", "true"),
        ("generate_audio", 1),
        ("prompt", 5),
        ("prompt", ["x"]),
        ("aspect_ratio", 16),
        ("resolution", ["720p"]),
        ("frame_images", {"type": "image_url"}),
        ("input_references", "https://cdn.example.com/a.png"),
        ("provider", ["google-vertex"]),
        ("callback_url", 1),
    ],
)
def test_types_are_strict(field, value):
    assert errors_of({"model": OPEN, "prompt": "p", field: value}) == {field: ["invalid_type"]}


def test_duration_at_least_one():
    assert errors_of({"model": OPEN, "prompt": "x", "duration": 0}) == {"duration": ["min_value"]}
    assert validate_job_request({"model": OPEN, "prompt": "x", "duration": 1})["duration"] == 1


def test_duration_outside_the_model_durations():
    data = {"model": VEO, "prompt": "x", "duration": 5}
    assert errors_of(data) == {"duration": ["unsupported_by_model"]}
    assert "Supported: 4, 6, 8" in messages_of(data)["duration"][0]


@pytest.mark.parametrize("seed", [2**63, -(2**63) - 1])
def test_seed_is_signed_64_bit(seed):
    # The hygiene rule's integer range (a signed 64-bit column) is the seed's.
    errors = errors_of({"model": VEO, "prompt": "x", "seed": seed})
    assert errors == {"seed": ["number_out_of_range"]}


def test_seed_limits_are_accepted():
    for seed in (2**63 - 1, -(2**63), 0):
        assert validate_job_request({"model": VEO, "prompt": "x", "seed": seed})["seed"] == seed


@pytest.mark.parametrize("model", [SIZED, OPEN])  # seed False and seed null
def test_seed_needs_a_model_that_supports_it(model):
    assert errors_of({"model": model, "prompt": "x", "seed": 7}) == {
        "seed": ["unsupported_by_model"]
    }


@pytest.mark.parametrize("model", [SIZED, OPEN])  # generate_audio False and null
def test_generate_audio_needs_a_model_that_supports_it(model):
    assert errors_of({"model": model, "prompt": "x", "generate_audio": True}) == {
        "generate_audio": ["unsupported_by_model"]
    }


# --- enums and sizes -------------------------------------------------------------------------


def test_aspect_ratio_outside_the_spec_names_the_allowed_values():
    data = {"model": OPEN, "prompt": "x", "aspect_ratio": "5:4"}
    assert errors_of(data) == {"aspect_ratio": ["invalid_choice"]}
    assert "16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9, 9:21" in messages_of(data)["aspect_ratio"][0]


def test_resolution_outside_the_spec():
    data = {"model": OPEN, "prompt": "x", "resolution": "8K"}
    assert errors_of(data) == {"resolution": ["invalid_choice"]}
    assert "480p, 720p, 768p, 1080p, 1K, 2K, 4K" in messages_of(data)["resolution"][0]


def test_values_outside_the_model_lists():
    data = {"model": VEO, "prompt": "x", "resolution": "480p", "aspect_ratio": "1:1"}
    assert errors_of(data) == {
        "resolution": ["unsupported_by_model"],
        "aspect_ratio": ["unsupported_by_model"],
    }
    assert "Supported: 720p, 1080p" in messages_of(data)["resolution"][0]


def test_an_empty_model_list_supports_nothing():
    VideoModel.objects.filter(model_id=OPEN).update(supported_resolutions=[])
    data = {"model": OPEN, "prompt": "x", "resolution": "720p"}
    assert errors_of(data) == {"resolution": ["unsupported_by_model"]}


@pytest.mark.parametrize(
    "size",
    [
        "1280*720",
        "1x1",
        "1280x720\n",
        "123456x720",
        "1280X720",
        "\u0661\u0662\u0668\u0660x720",
        1280,
    ],
)
def test_size_format(size):
    assert errors_of({"model": SIZED, "prompt": "x", "size": size}) == {"size": ["invalid_format"]}


def test_size_outside_the_model_sizes():
    data = {"model": SIZED, "prompt": "x", "size": "1920x1080"}
    assert errors_of(data) == {"size": ["unsupported_by_model"]}
    assert "1280x720, 720x1280" in messages_of(data)["size"][0]


@pytest.mark.parametrize("model", [VEO, OPEN])
def test_size_on_a_model_without_sizes(model):
    data = {"model": model, "prompt": "x", "size": "1280x720"}
    assert errors_of(data) == {"size": ["unsupported_by_model"]}
    assert "resolution and aspect_ratio" in messages_of(data)["size"][0]


@pytest.mark.parametrize("other", [{"resolution": "720p"}, {"aspect_ratio": "16:9"}])
def test_size_excludes_resolution_and_aspect_ratio(other):
    data = {"model": SIZED, "prompt": "x", "size": "1280x720", **other}
    assert errors_of(data) == {"size": ["conflict"]}


# --- prompt ----------------------------------------------------------------------------------


def test_prompt_length_limit():
    ok = "x" * validation.MAX_PROMPT_CHARS
    assert validate_job_request({"model": VEO, "prompt": ok})["prompt"] == ok
    assert errors_of({"model": VEO, "prompt": ok + "x"}) == {"prompt": ["max_length"]}


@pytest.mark.parametrize("prompt", [None, "", "   "])
def test_prompt_required_without_frames(prompt):
    data = {"model": VEO} if prompt is None else {"model": VEO, "prompt": prompt}
    assert errors_of(data) == {"prompt": ["required"]}


def test_prompt_optional_for_image_to_video():
    cleaned = validate_job_request({"model": VEO, "frame_images": [frame()]})
    assert cleaned["prompt"] == "" and len(cleaned["frame_images"]) == 1


def test_prompt_required_when_the_model_takes_no_frames():
    assert errors_of({"model": SIZED, "frame_images": [frame()]}) == {
        "frame_images": ["unsupported_by_model"],
        "prompt": ["required"],
    }


# --- frame images ----------------------------------------------------------------------------


def frame_errors(frames, model=VEO):
    return errors_of({"model": model, "prompt": "x", "frame_images": frames})


def test_at_most_two_frame_images():
    frames = [frame("first_frame"), frame("last_frame"), frame("last_frame")]
    assert frame_errors(frames) == {"frame_images": ["too_many", "duplicate_frame_type"]}


def test_duplicate_frame_type():
    assert frame_errors([frame(), frame()]) == {"frame_images": ["duplicate_frame_type"]}


@pytest.mark.parametrize(
    ("frame_type", "code"),
    [("middle_frame", "invalid_choice"), (1, "invalid_type"), (None, "invalid_type")],
)
def test_frame_type_choices(frame_type, code):
    assert frame_errors([frame(frame_type)]) == {"frame_images": [code]}


def test_frame_type_is_required():
    item = frame()
    del item["frame_type"]
    assert frame_errors([item]) == {"frame_images": ["required"]}


def test_frame_type_the_model_does_not_take():
    VideoModel.objects.filter(model_id=VEO).update(supported_frame_images=["first_frame"])
    data = {"model": VEO, "prompt": "x", "frame_images": [frame("last_frame")]}
    assert errors_of(data) == {"frame_images": ["unsupported_by_model"]}
    assert "Supported: first_frame" in messages_of(data)["frame_images"][0]


@pytest.mark.parametrize("model", [SIZED, OPEN])  # supported_frame_images [] and null
def test_models_without_frame_images(model):
    assert frame_errors([frame()], model) == {"frame_images": ["unsupported_by_model"]}


@pytest.mark.parametrize(
    ("item", "codes"),
    [
        ("https://cdn.example.com/a.png", ["invalid_type"]),
        (frame(detail="high"), ["unknown_field"]),
        ({"type": "image_url", "frame_type": "first_frame"}, ["required"]),
        ({"image_url": {"url": "https://a.example/x"}, "frame_type": "first_frame"}, ["required"]),
        ({**frame(), "type": "video_url"}, ["invalid_choice"]),
        ({**frame(), "image_url": "https://cdn.example.com/a.png"}, ["invalid_type"]),
        (
            {**frame(), "image_url": {"url": "https://a.example/x", "detail": "x"}},
            ["unknown_field"],
        ),
        ({**frame(), "image_url": {}}, ["required"]),
    ],
)
def test_frame_image_shape(item, codes):
    assert frame_errors([item]) == {"frame_images": codes}


def test_frame_image_errors_name_the_item():
    message = messages_of({"model": VEO, "prompt": "x", "frame_images": [frame(), frame()]})
    assert message["frame_images"][0].startswith("Frame image 2:")


# --- input references ------------------------------------------------------------------------


def ref_errors(refs):
    return errors_of({"model": VEO, "prompt": "x", "input_references": refs})


def test_at_most_eight_references():
    assert ref_errors([ref()] * 9) == {"input_references": ["too_many"]}
    assert (
        len(
            validate_job_request({"model": VEO, "prompt": "x", "input_references": [ref()] * 8})[
                "input_references"
            ]
        )
        == 8
    )


@pytest.mark.parametrize(
    ("item", "codes"),
    [
        ({"type": "text", "text": "hi"}, ["invalid_choice"]),
        (
            {"type": "audio_url", "image_url": {"url": "https://a.example/x"}},
            ["unknown_field", "required"],
        ),
        (
            {"type": "video_url", "video_url": {"uri": "https://a.example/x"}},
            ["unknown_field", "required"],
        ),
        ({**ref(), "frame_type": "first_frame"}, ["unknown_field"]),
        ({"image_url": {"url": "https://a.example/x"}}, ["required"]),
        ([], ["invalid_type"]),
    ],
)
def test_reference_shape(item, codes):
    assert ref_errors([item]) == {"input_references": codes}


@pytest.mark.parametrize(
    ("kind", "url", "code"),
    [
        ("image_url", "http://cdn.example.com/a.png", "insecure_url"),
        ("image_url", "ftp://cdn.example.com/a.png", "invalid_url"),
        ("image_url", "not a url", "invalid_url"),
        ("image_url", "https://", "invalid_url"),
        ("image_url", "", "invalid_type"),
        ("image_url", None, "invalid_type"),
        ("image_url", "https://cdn.example.com/" + "a" * 3000, "too_long"),
        ("audio_url", PNG, "invalid_url"),  # an image where audio was announced
        ("image_url", "data:image/png;base64,not base64!", "invalid_url"),
        ("image_url", "data:image/png,rawbytes", "invalid_url"),
        ("image_url", "data:;base64,AAAA", "invalid_url"),
    ],
)
def test_reference_urls(kind, url, code):
    assert ref_errors([ref(kind, url)]) == {"input_references": [code]}


def test_data_url_size_cap():
    prefix = "data:video/mp4;base64,"
    at_cap = prefix + "A" * (validation.MAX_DATA_URL_BYTES - len(prefix))
    assert validate_job_request(
        {"model": VEO, "prompt": "x", "input_references": [ref("video_url", at_cap)]}
    )
    assert ref_errors([ref("video_url", at_cap + "AAAA")]) == {"input_references": ["too_large"]}


def test_data_url_with_parameters_and_uppercase_scheme():
    url = "DATA:audio/mpeg;name=a.mp3;base64,SUQz"
    assert validate_job_request(
        {"model": VEO, "prompt": "x", "input_references": [ref("audio_url", url)]}
    )


# --- provider passthrough --------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider",
    [
        {"options": {"google-vertex": {"parameters": {"output_config": {"effort": "low"}}}}},
        {"options": {"google-vertex": {"output_config": {"effort": "low"}}}},  # the spec's form
        {"options": {"google-vertex": {"person_generation": "allow", "output_config": {}}}},
    ],
)
def test_allowed_passthrough_parameters(provider):
    cleaned = validate_job_request({"model": VEO, "prompt": "x", "provider": provider})
    assert cleaned["provider"] == provider


@pytest.mark.parametrize("provider", [{}, {"options": {}}, {"options": None}])
def test_empty_provider_is_none(provider):
    assert (
        validate_job_request({"model": VEO, "prompt": "x", "provider": provider})["provider"]
        is None
    )


def test_parameters_outside_the_allowed_list_name_the_allowed_keys():
    data = {"model": VEO, "prompt": "x", "provider": {"options": {"g": {"parameters": {"zz": 1}}}}}
    assert errors_of(data) == {"provider": ["unsupported_by_model"]}
    message = messages_of(data)["provider"][0]
    assert "zz" in message and "output_config, person_generation" in message


def test_model_without_passthrough_parameters():
    data = {"model": OPEN, "prompt": "x", "provider": {"options": {"acme": {"steps": 3}}}}
    assert errors_of(data) == {"provider": ["unsupported_by_model"]}
    assert "accepts no provider parameters" in messages_of(data)["provider"][0]


@pytest.mark.parametrize(
    ("provider", "codes"),
    [
        ({"order": ["a"]}, ["unknown_field"]),
        ({"options": ["google-vertex"]}, ["invalid_type"]),
        ({"options": {"google-vertex": "low"}}, ["invalid_type"]),
        ({"options": {"google-vertex": {"parameters": "low"}}}, ["invalid_type"]),
        ({"options": {"": {}}}, ["invalid_type"]),
    ],
)
def test_provider_shape(provider, codes):
    assert errors_of({"model": VEO, "prompt": "x", "provider": provider}) == {"provider": codes}


# --- callback URL ----------------------------------------------------------------------------


def callback_errors(url):
    return errors_of({"model": VEO, "prompt": "x", "callback_url": url})


def test_public_https_callback():
    url = "https://hooks.example.com:8443/videogen/?k=1"
    assert (
        validate_job_request({"model": VEO, "prompt": "x", "callback_url": url})["callback_url"]
        == url
    )


def test_callback_must_be_https():
    assert callback_errors("http://hooks.example.com/") == {"callback_url": ["insecure_url"]}


@pytest.mark.parametrize(
    "url", ["hooks.example.com/x", "https://", "ftp://hooks.example.com/", "https://exa mple.com"]
)
def test_callback_must_be_a_url(url):
    assert callback_errors(url) == {"callback_url": ["invalid_url"]}


def test_callback_length():
    assert callback_errors("https://example.com/" + "a" * 2000) == {"callback_url": ["max_length"]}


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "app.localhost",
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata, link-local
        "0.0.0.0",  # unspecified
        "100.64.0.1",  # carrier-grade NAT
        "240.0.0.1",  # reserved
        "224.0.0.1",  # multicast
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
    ],
)
def test_callback_must_not_point_at_private_addresses(host):
    assert callback_errors(f"https://{host}/hook") == {"callback_url": ["private_url"]}
    assert callback_errors(f"https://{host}:8443/hook") == {"callback_url": ["private_url"]}


@pytest.mark.parametrize("host", ["8.8.8.8", "[2606:4700::1111]", "10.example.com"])
def test_callback_public_literals_are_fine(host):
    url = f"https://{host}/hook"
    assert validate_job_request({"model": VEO, "prompt": "x", "callback_url": url})


# --- simulator relaxations -------------------------------------------------------------------


@pytest.mark.usefixtures("simulator")
def test_simulator_accepts_local_http_callbacks_and_inputs():
    data = {
        "model": VEO,
        "prompt": "x",
        "callback_url": "http://127.0.0.1:8000/videogen/webhook/",
        "frame_images": [frame(url="http://localhost:8001/a.png")],
        "input_references": [ref(url="http://127.0.0.1:8001/b.png")],
    }
    assert validate_job_request(data)["callback_url"] == data["callback_url"]


@pytest.mark.usefixtures("simulator")
def test_simulator_still_rejects_non_web_urls():
    assert callback_errors("ftp://127.0.0.1/") == {"callback_url": ["invalid_url"]}
    assert ref_errors([ref(url="file:///etc/passwd")]) == {"input_references": ["invalid_url"]}


# --- never anything but ValidationError ------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
url_values = st.sampled_from(
    ["https://a.example/x.png", "http://127.0.0.1/x", "data:image/png;base64,AAAA", "", "x"]
)
part_values = st.fixed_dictionaries(
    {"type": st.sampled_from(["image_url", "audio_url", "video_url", "x"])},
    optional={
        "image_url": st.fixed_dictionaries({"url": url_values}) | json_values,
        "audio_url": st.fixed_dictionaries({"url": url_values}),
        "frame_type": st.sampled_from(["first_frame", "last_frame", "x"]) | json_values,
    },
)
known_values = {
    "model": st.sampled_from([VEO, SIZED, OPEN, RETIRED, "x"]) | json_values,
    "prompt": st.text(max_size=40) | json_values,
    "aspect_ratio": st.sampled_from(["16:9", "1:1", "5:4"]) | json_values,
    "duration": st.integers(-3, 12) | json_values,
    "resolution": st.sampled_from(["720p", "4K", "8K"]) | json_values,
    "size": st.sampled_from(["1280x720", "1x1"]) | json_values,
    "seed": st.integers() | json_values,
    "generate_audio": st.booleans() | json_values,
    "frame_images": st.lists(part_values, max_size=3) | json_values,
    "input_references": st.lists(part_values, max_size=3) | json_values,
    "provider": st.fixed_dictionaries(
        {"options": st.dictionaries(st.text(max_size=8), json_values, max_size=2)}
    )
    | json_values,
    "callback_url": url_values | json_values,
    "creativity": json_values,
}


@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.fixed_dictionaries({}, optional=known_values)
    | st.dictionaries(st.text(max_size=15), json_values, max_size=6)
)
def test_any_json_object_validates_or_raises_validation_error(data):
    try:
        cleaned = validate_job_request(data)
    except ValidationError as exc:
        assert exc.error_dict  # always keyed by field
        for errors in exc.error_dict.values():
            assert all(error.code for error in errors)
            assert all(message for message in ValidationError(errors).messages)
    else:
        assert list(cleaned) == list(validation.REQUEST_FIELDS)


def test_nul_characters_are_refused_with_a_field_error():
    with pytest.raises(ValidationError) as excinfo:
        validate_job_request({"model": "acme/sized", "prompt": "a\x00b"})
    assert excinfo.value.error_dict["prompt"][0].code == "null_characters"


def test_duration_has_an_upper_bound_even_when_the_model_lists_none():
    with pytest.raises(ValidationError) as excinfo:
        validate_job_request({"model": "acme/open", "prompt": "x", "duration": 10**12})
    assert excinfo.value.error_dict["duration"][0].code == "max_value"


# --- what each model offers (request_choices) ------------------------------------------------


def test_request_choices_of_a_model_narrow_the_spec_in_its_order():
    veo = VideoModel.objects.get(model_id=VEO)
    assert request_choices(veo) == {
        "aspect_ratio": ["16:9", "9:16"],
        "duration": [4, 6, 8],
        "resolution": ["720p", "1080p"],
        "size": [],  # null sizes: no exact size, resolution + aspect_ratio instead
        "seed": True,
        "generate_audio": True,
        "frame_images": ["first_frame", "last_frame"],
        "provider": ["output_config", "person_generation"],
    }


def test_request_choices_of_a_model_that_takes_little():
    sized = VideoModel.objects.get(model_id=SIZED)
    assert request_choices(sized) == {
        "aspect_ratio": ["16:9"],
        "duration": [5, 10],
        "resolution": ["720p"],
        "size": ["1280x720", "720x1280"],
        "seed": False,
        "generate_audio": False,
        "frame_images": [],
        "provider": [],
    }


def test_request_choices_of_an_unrestricted_model_and_of_no_model():
    spec = {
        "aspect_ratio": ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21"],
        "duration": None,  # any whole number of seconds within the schema's limits
        "resolution": ["480p", "720p", "768p", "1080p", "1K", "2K", "4K"],
    }
    open_model = VideoModel.objects.get(model_id=OPEN)
    assert request_choices(open_model) == {
        **spec,
        "size": [],
        "seed": False,  # null capability flags count as "no"
        "generate_audio": False,
        "frame_images": [],
        "provider": [],
    }
    assert request_choices(None) == {
        **spec,
        "size": None,
        "seed": True,
        "generate_audio": True,
        "frame_images": ["first_frame", "last_frame"],
        "provider": None,
    }


def test_request_choices_leave_out_catalog_values_the_spec_does_not_have():
    VideoModel.objects.filter(model_id=VEO).update(supported_resolutions=["720p", "5K"])
    assert request_choices(VideoModel.objects.get(model_id=VEO))["resolution"] == ["720p"]


@pytest.mark.parametrize("model_id", [VEO, SIZED, OPEN])
def test_every_value_request_choices_offers_validates(model_id):
    model = VideoModel.objects.get(model_id=model_id)
    offered = request_choices(model)
    for field in ("aspect_ratio", "duration", "resolution", "size"):
        for value in offered[field] or []:
            validate_job_request({"model": model_id, "prompt": "x", field: value})
    for frame_type in offered["frame_images"]:
        validate_job_request({"model": model_id, "frame_images": [frame(frame_type)]})
    for flag in ("seed", "generate_audio"):
        value = 7 if flag == "seed" else True
        data = {"model": model_id, "prompt": "x", flag: value}
        if offered[flag]:
            validate_job_request(data)
        else:
            assert errors_of(data) == {flag: ["unsupported_by_model"]}
    provider = {"options": {"acme": {"parameters": dict.fromkeys(offered["provider"], 1)}}}
    validate_job_request({"model": model_id, "prompt": "x", "provider": provider})


def test_request_choices_read_no_database(django_assert_num_queries):
    veo = VideoModel.objects.get(model_id=VEO)
    with django_assert_num_queries(0):
        request_choices(veo)


# --- the schema ------------------------------------------------------------------------------


def test_the_schema_names_the_job_columns_of_the_request():
    from videogen.models import VideoJob

    columns = {f.name for f in VideoJob._meta.get_fields()}
    assert set(validation.REQUEST_FIELDS) <= columns
    assert [f.name for f in validation.REQUEST_SCHEMA] == list(validation.REQUEST_FIELDS)


def test_the_cleaned_request_carries_the_catalog_entry_it_was_checked_against():
    cleaned = validate_job_request({"model": VEO, "prompt": "A fox"})
    assert isinstance(cleaned, validation.JobRequest)
    assert cleaned.catalog_entry == VideoModel.objects.get(model_id=VEO)
