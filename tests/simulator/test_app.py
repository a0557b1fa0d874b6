"""The four API endpoints and the control API, checked against the vendored OpenAPI spec."""

from __future__ import annotations

import time

import pytest
import requests

from videogen.simulator.content import sample_bytes

VEO = {"model": "google/veo-3.1", "prompt": "A lighthouse at dawn", "duration": 8}


def submit(session, sim, **overrides):
    response = session.post(sim.url("/videos"), json={**VEO, **overrides})
    assert response.status_code == 202, response.text
    return response.json()


def wait_status(session, sim, job_id, status, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        body = session.get(sim.url(f"/videos/{job_id}")).json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_submit_answers_202_matching_the_spec(simulator, simulator_session, openrouter_schema):
    response = simulator_session.post(simulator.url("/videos"), json=VEO)

    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    openrouter_schema(body, "VideoGenerationResponse")
    assert body["status"] == "pending"
    assert body["id"].startswith("job-")
    assert body["generation_id"].startswith("gen-")
    assert body["polling_url"] == f"/api/v1/videos/{body['id']}"


def test_job_walks_pending_in_progress_completed(simulator, simulator_session, openrouter_schema):
    simulator.config.pending_seconds = 0.2
    simulator.config.processing_seconds = 0.2
    job = submit(simulator_session, simulator)
    seen = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        body = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()
        openrouter_schema(body, "VideoGenerationResponse")
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] == "completed":
            break
        time.sleep(0.03)

    assert seen == ["pending", "in_progress", "completed"]
    assert body["unsigned_urls"] == [
        f"{simulator.origin}/api/v1/videos/{job['id']}/content?index=0"
    ]
    assert body["usage"] == {"cost": 3.2, "is_byok": False}  # 8 s x 0.40 (audio by default)
    assert "error" not in body


@pytest.mark.parametrize(
    ("marker", "status"),
    [("[sim:fail]", "failed"), ("[sim:cancel]", "cancelled"), ("[sim:expire]", "expired")],
)
def test_markers_end_jobs_with_an_error(
    simulator, simulator_session, openrouter_schema, marker, status
):
    job = submit(simulator_session, simulator, prompt=f"A storm {marker}")
    body = wait_status(simulator_session, simulator, job["id"], status)

    openrouter_schema(body, "VideoGenerationResponse")
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert "unsigned_urls" not in body
    assert "usage" not in body


def test_late_cost_is_null_first_then_a_number(simulator, simulator_session, openrouter_schema):
    job = submit(simulator_session, simulator, prompt="Waves [sim:late-cost]")
    first = wait_status(simulator_session, simulator, job["id"], "completed")
    second = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()

    openrouter_schema(first, "VideoGenerationResponse")
    openrouter_schema(second, "VideoGenerationResponse")
    assert first["usage"] == {"cost": None, "is_byok": False}
    assert second["usage"] == {"cost": 3.2, "is_byok": False}


def test_forced_statuses_are_served_and_spec_valid(simulator, simulator_session, openrouter_schema):
    simulator.config.pending_seconds = 60
    job = submit(simulator_session, simulator)
    for status in ("pending", "in_progress", "completed", "failed", "cancelled", "expired"):
        simulator.state.set_status(job["id"], status)
        body = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()
        openrouter_schema(body, "VideoGenerationResponse")
        assert body["status"] == status


def test_forced_error_message_and_forget(simulator, simulator_session):
    job = submit(simulator_session, simulator)
    simulator.state.set_status(job["id"], "failed", error="moderation: prompt rejected")
    body = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()
    assert body["error"] == "moderation: prompt rejected"

    assert simulator.state.forget(job["id"]) is True
    response = simulator_session.get(simulator.url(f"/videos/{job['id']}"))
    assert response.status_code == 404


def test_unknown_job_is_404_with_spec_error(simulator, simulator_session, openrouter_schema):
    response = simulator_session.get(simulator.url("/videos/job-nope"))

    assert response.status_code == 404
    openrouter_schema(response.json(), "NotFoundResponse")
    assert response.json()["error"]["code"] == 404


def test_models_list_matches_the_spec(simulator, simulator_session, openrouter_schema):
    response = simulator_session.get(simulator.url("/videos/models"))

    assert response.status_code == 200
    body = response.json()
    openrouter_schema(body, "VideoModelsListResponse")
    assert len(body["data"]) >= 4
    required = {
        "id", "canonical_slug", "name", "created", "supported_resolutions",
        "supported_aspect_ratios", "supported_sizes", "supported_durations",
        "supported_frame_images", "upscale_factor", "creativity", "generate_audio", "seed",
        "allowed_passthrough_parameters",
    }  # fmt: skip
    for model in body["data"]:
        assert required <= set(model)
        assert all(isinstance(v, str) for v in model["pricing_skus"].values())
    assert sum(1 for m in body["data"] if m["supported_sizes"] is not None) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/videos"),
        ("GET", "/videos/job-x"),
        ("GET", "/videos/job-x/content"),
        ("GET", "/videos/models"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", "Basic abc", "Bearer "])
def test_every_endpoint_needs_the_bearer_key(simulator, openrouter_schema, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    response = requests.request(method, simulator.url(path), headers=headers, json=VEO)

    assert response.status_code == 401
    openrouter_schema(response.json(), "UnauthorizedResponse")
    assert response.json()["error"]["code"] == 401


def test_content_serves_the_sample_mp4(simulator, simulator_session):
    job = submit(simulator_session, simulator)
    body = wait_status(simulator_session, simulator, job["id"], "completed")
    response = simulator_session.get(body["unsigned_urls"][0])

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.content == sample_bytes()
    assert response.content[4:8] == b"ftyp"
    assert 1_000 < len(response.content) < 200_000


def test_content_without_index_defaults_to_zero(simulator, simulator_session):
    job = submit(simulator_session, simulator)
    simulator.state.set_status(job["id"], "completed")
    response = simulator_session.get(simulator.url(f"/videos/{job['id']}/content"))
    assert response.status_code == 200
    assert response.content[4:8] == b"ftyp"


def test_content_needs_auth_even_from_unsigned_urls(simulator, simulator_session):
    job = submit(simulator_session, simulator)
    simulator.state.set_status(job["id"], "completed")
    url = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()["unsigned_urls"][0]
    assert requests.get(url).status_code == 401


@pytest.mark.parametrize(
    ("setup", "query", "status"),
    [
        ("unknown", "index=0", 404),
        ("pending", "index=0", 404),
        ("failed", "index=0", 404),
        ("completed", "index=1", 404),
        ("completed", "index=-1", 400),
        ("completed", "index=abc", 400),
    ],
)
def test_content_errors(simulator, simulator_session, openrouter_schema, setup, query, status):
    simulator.config.pending_seconds = 60
    job_id = "job-unknown"
    if setup != "unknown":
        job_id = submit(simulator_session, simulator)["id"]
        if setup != "pending":
            simulator.state.set_status(job_id, setup)
    response = simulator_session.get(simulator.url(f"/videos/{job_id}/content?{query}"))

    assert response.status_code == status
    schema = {400: "BadRequestResponse", 404: "NotFoundResponse"}[status]
    openrouter_schema(response.json(), schema)


def test_content_error_marker_is_a_502(simulator, simulator_session, openrouter_schema):
    job = submit(simulator_session, simulator, prompt="Fog [sim:content-error]")
    simulator.state.set_status(job["id"], "completed")
    response = simulator_session.get(simulator.url(f"/videos/{job['id']}/content?index=0"))

    assert response.status_code == 502
    openrouter_schema(response.json(), "BadGatewayResponse")


def test_several_outputs_each_resolve(simulator, simulator_session):
    simulator.config.outputs_per_job = 2
    job = submit(simulator_session, simulator)
    simulator.state.set_status(job["id"], "completed")
    urls = simulator_session.get(simulator.url(f"/videos/{job['id']}")).json()["unsigned_urls"]

    assert [u.rsplit("=", 1)[1] for u in urls] == ["0", "1"]
    assert all(simulator_session.get(u).status_code == 200 for u in urls)


def test_synthetic_content_of_a_configured_size(simulator, simulator_session):
    simulator.config.content_size_bytes = 1_000_000
    simulator.config.content_chunk_bytes = 4096
    job = submit(simulator_session, simulator)
    simulator.state.set_status(job["id"], "completed")
    response = simulator_session.get(simulator.url(f"/videos/{job['id']}/content"))

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == 1_000_000
    assert len(response.content) == 1_000_000
    assert response.content[4:8] == b"ftyp"


def test_no_credits_marker_is_a_402(simulator, simulator_session, openrouter_schema):
    response = simulator_session.post(
        simulator.url("/videos"), json={**VEO, "prompt": "x [sim:no-credits]"}
    )
    assert response.status_code == 402
    openrouter_schema(response.json(), "PaymentRequiredResponse")


def test_unknown_path_and_wrong_method(simulator, simulator_session):
    assert simulator_session.get(simulator.url("/nothing")).status_code == 404
    response = simulator_session.delete(simulator.url("/videos/models"))
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json()["error"]["code"] == 405


# --- control API ----------------------------------------------------------------------------
def test_control_config_patch_changes_behaviour(simulator, simulator_session):
    url = f"{simulator.origin}/_simulator/config"
    response = simulator_session.post(url, json={"latency_seconds": 0.2, "rate_limit_rate": 0})

    assert response.status_code == 200
    assert response.json()["latency_seconds"] == 0.2
    assert response.json()["api_key"] == "***"
    started = time.monotonic()
    simulator_session.get(simulator.url("/videos/models"))
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    "patch",
    [
        {"nope": 1},
        {"api_key": "other"},
        {"server_error_rate": 1.5},
        {"latency_seconds": "slow"},
        {"allow_http_callbacks": 1},
        {"pending_seconds": -1},
        ["not", "an", "object"],
    ],
)
def test_control_config_rejects_bad_patches(simulator, simulator_session, patch):
    response = simulator_session.post(f"{simulator.origin}/_simulator/config", json=patch)

    assert response.status_code == 400
    assert "error" in response.json()
    assert simulator.config.server_error_rate == 0
    assert simulator.config.latency_seconds == 0


def test_control_api_needs_the_key(simulator):
    response = requests.get(f"{simulator.origin}/_simulator/stats")
    assert response.status_code == 401


def test_control_stats_count_requests_per_endpoint(simulator, simulator_session):
    job = submit(simulator_session, simulator)
    simulator_session.get(simulator.url(f"/videos/{job['id']}"))
    simulator_session.get(simulator.url(f"/videos/{job['id']}"))
    simulator_session.get(simulator.url("/videos/models"))
    stats = simulator_session.get(f"{simulator.origin}/_simulator/stats").json()

    assert stats["requests"] == {
        "POST /videos": 1,
        "GET /videos/{id}": 2,
        "GET /videos/models": 1,
    }
    assert stats["statuses"] == {"200": 3, "202": 1}
    assert stats["jobs"]["total"] == 1

    reset = simulator_session.delete(f"{simulator.origin}/_simulator/stats").json()
    assert reset["requests"] == {}


def test_control_jobs_pin_and_forget(simulator, simulator_session):
    simulator.config.pending_seconds = 60
    job = submit(simulator_session, simulator)
    url = f"{simulator.origin}/_simulator/jobs/{job['id']}"

    pinned = simulator_session.post(url, json={"status": "completed", "cost": "1.25"})
    assert pinned.status_code == 200
    assert pinned.json()["usage"]["cost"] == 1.25
    assert simulator_session.post(url, json={"status": "weird"}).status_code == 400
    assert simulator_session.delete(url).status_code == 204
    assert simulator_session.get(simulator.url(f"/videos/{job['id']}")).status_code == 404
    assert simulator_session.delete(url).status_code == 404


def test_cost_is_an_exact_json_number_not_a_float_round_trip():
    from decimal import Decimal

    from videogen.simulator.payloads import dumps

    body = dumps({"usage": {"cost": Decimal("0.10000000000000001"), "is_byok": False}})
    assert body == b'{"usage":{"cost":0.10000000000000001,"is_byok":false}}'


def test_generation_record_holds_what_was_billed_and_matches_the_spec(
    simulator, simulator_session, openrouter_schema
):
    simulator.config.apply_patch({"late_cost_polls": 5})
    created = simulator_session.post(
        simulator.url("/videos"),
        json={
            "model": "google/veo-3.1",
            "prompt": "fox [sim:late-cost]",
            "duration": 4,
            "generate_audio": False,
        },
    ).json()
    url = simulator.url("/generation")
    gen = created["generation_id"]
    assert simulator_session.get(url, params={"id": gen}).status_code == 404  # not finished
    simulator.state.set_status(created["id"], "completed")
    polled = simulator_session.get(simulator.url(f"/videos/{created['id']}")).json()
    assert polled["usage"]["cost"] is None  # the video API has not reported it yet...
    response = simulator_session.get(url, params={"id": gen})
    assert response.status_code == 200
    openrouter_schema(response.json(), "GenerationResponse")
    record = response.json()["data"]
    # ... but the provider's own record has it: 4 s at 0.20 USD/s.
    assert (record["id"], record["total_cost"], record["api_type"]) == (gen, 0.8, "video")


def test_generation_of_a_failed_job_bills_nothing(simulator, simulator_session):
    created = simulator_session.post(
        simulator.url("/videos"), json={"model": "google/veo-3.1", "prompt": "x [sim:fail]"}
    ).json()
    simulator.state.set_status(created["id"], "failed")
    record = simulator_session.get(
        simulator.url("/generation"), params={"id": created["generation_id"]}
    ).json()
    assert record["data"]["total_cost"] == 0


@pytest.mark.parametrize("query", [{}, {"id": "gen-nope"}])
def test_generation_unknown_or_missing_id(simulator, simulator_session, query):
    response = simulator_session.get(simulator.url("/generation"), params=query)
    assert response.status_code in (400, 404)
    assert "error" in response.json()
