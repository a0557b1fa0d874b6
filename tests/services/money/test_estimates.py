from decimal import Decimal

import pytest

from videogen.models import VideoModel
from videogen.services.money.estimates import estimate_cost


def model(skus, durations=(5, 10), resolutions=("720p", "1080p")):
    return VideoModel(
        model_id="m",
        name="m",
        pricing_skus=skus,
        supported_durations=list(durations) if durations is not None else None,
        supported_resolutions=list(resolutions) if resolutions is not None else None,
    )


@pytest.mark.parametrize(
    ("skus", "request_", "expected"),
    [
        ({"generate": "0.50"}, {}, "0.50"),
        ({"per_video": "0.25"}, {"duration": 5}, "0.25"),
        ({"per_video_5s": "0.45", "per_video_10s": "0.90"}, {"duration": 10}, "0.90"),
        ({"per_second": "0.10"}, {"duration": 8}, "0.80"),
        (
            {"per_second_720p": "0.10", "per_second_1080p": "0.15"},
            {"duration": 4, "resolution": "1080p"},
            "0.60",
        ),
        (
            {"per_second": "0.20", "per_second_audio": "0.40"},
            {"duration": 5, "generate_audio": True},
            "2.00",
        ),
        (
            {"per_second": "0.20", "per_second_audio": "0.40"},
            {"duration": 5, "generate_audio": False},
            "1.00",
        ),
        (
            {"per_second_720p": "0.1", "per_second_720p_audio": "0.3"},
            {"duration": 2, "resolution": "720p", "generate_audio": True},
            "0.6",
        ),
        ({"generate": "0.10", "per_second": "0.01"}, {"duration": 10}, "0.20"),
    ],
)
def test_understood_skus(skus, request_, expected):
    estimate = estimate_cost(model=model(skus), request=request_)
    assert estimate.cost == Decimal(expected)
    assert estimate.reason


@pytest.mark.parametrize(
    ("skus", "request_", "why"),
    [
        (None, {}, "no prices"),
        ({}, {}, "no prices"),
        ({"per_token": "0.01"}, {"duration": 5}, "not understood"),
        ({"per_second": "cheap"}, {"duration": 5}, "non-numeric"),
        ({"per_second": "-1"}, {"duration": 5}, "invalid"),
        ({"per_second": "0.1"}, {}, "duration is unknown"),
        ({"per_second_720p": "0.1", "per_second_1080p": "0.2"}, {"duration": 5}, "resolution"),
        ({"per_video_5s": "0.45"}, {"duration": 10}, "no published SKU"),
    ],
)
def test_no_estimate_rather_than_a_guess(skus, request_, why):
    estimate = estimate_cost(model=model(skus), request=request_)
    assert estimate.cost is None and not estimate
    assert why in estimate.reason


def test_single_supported_duration_and_resolution_are_implied():
    m = model({"per_second_720p": "0.1"}, durations=(6,), resolutions=("720p",))
    assert estimate_cost(model=m, request={}).cost == Decimal("0.6")


def test_unknown_model_has_no_estimate():
    assert estimate_cost(model=None, request={"duration": 5}).cost is None


@pytest.mark.django_db
def test_estimates_match_the_simulators_costs(app_on_simulator, enqueued, workspace):
    """The simulator bills from the same SKUs: an estimate equals the final cost."""
    from videogen.services.jobs.reconcile import job_poll_now
    from videogen.services.jobs.submission import job_create, job_submit

    requests_ = [
        {"model": "google/veo-3.1", "prompt": "x", "duration": 8, "resolution": "1080p"},
        {"model": "openai/sora-2", "prompt": "x", "duration": 4, "generate_audio": False},
        {"model": "minimax/hailuo-02", "prompt": "x", "duration": 6},
    ]
    for data in requests_:
        job = job_create(workspace=workspace, data=data)
        job_submit(job_id=job.pk)
        import time

        time.sleep(0.2)
        job_poll_now(job_id=job.pk)
        job.refresh_from_db()
        if job.estimated_cost is not None:
            assert job.status == "completed"
            assert job.cost == job.estimated_cost, data
