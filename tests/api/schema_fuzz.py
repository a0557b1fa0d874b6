"""The hostile schemathesis run of the API, shared by its CI test (tests/api/test_schema.py,
through the WSGI app) and its benchmark (bench/api_fuzz.py, against a live server).

- ``seed_api_data()``: workspace ``alpha`` (a viewer, a member and an admin, with fixed API
  tokens; jobs in every state, one with a stored video) and workspace ``beta`` (its admin is
  the "outsider", with one job), made through the services against the provider the site is
  configured with (the simulator).
- ``install_hooks(schema)``: the hooks that aim generated requests at those real objects and
  mix in hostile input from ``tests.strategies``; every case is sent as one of the four roles.
- ``authorize(case)``: a role for the cases no hook saw (examples and coverage phases).
"""

from __future__ import annotations

import uuid
import zlib
from pathlib import Path

from django.core.files.base import ContentFile
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from tests.factories import make_job, make_member, make_user, make_workspace
from tests.services.jobs.test_outputs import completed_job
from tests.strategies import hostile_query, url_hostile_text, with_hostile_value
from videogen import hygiene
from videogen.models import JobStatus, OutputStatus, Role, VideoJob, VideoOutput
from videogen.services.jobs.submission import job_create, job_submit

SAMPLE = Path(__file__).resolve().parents[2] / "videogen" / "simulator" / "assets" / "sample.mp4"

# Fixed ids so the generators below can aim at real objects.
OWN_JOBS = {
    "queued": uuid.UUID("00000000-0000-4000-8000-000000000001"),
    "pending": uuid.UUID("00000000-0000-4000-8000-000000000002"),
    "completed": uuid.UUID("00000000-0000-4000-8000-000000000003"),
    "stored": uuid.UUID("00000000-0000-4000-8000-000000000004"),
    "failed": uuid.UUID("00000000-0000-4000-8000-000000000005"),
}
FOREIGN_JOB = uuid.UUID("00000000-0000-4000-8000-0000000000ff")
OWN_SLUG, FOREIGN_SLUG = "alpha", "beta"
MODELS = ["google/veo-3.1", "minimax/hailuo-02", "openai/sora-2"]

ROLES = ["viewer", "member", "admin", "outsider"]
# Fixed API tokens, so that the case hook below can pick the role of every generated case.
TOKENS = {role: role.ljust(40, "0") for role in ROLES}


def flatmap_case(context, case):
    """Each case as one of the four roles."""
    return st.sampled_from(ROLES).map(
        lambda role: _with_headers(case, {"Authorization": f"Token {TOKENS[role]}"})
    )


def _with_headers(case, headers):
    case.headers = {**(case.headers or {}), **headers}
    return case


def flatmap_path_parameters(context, path_parameters):
    """A real job id or workspace slug (ours, or a foreign one) half the time, hostile text
    a quarter of the time."""
    path_parameters = path_parameters or {}
    for name, real in (
        ("id", [str(i) for i in [*OWN_JOBS.values(), FOREIGN_JOB]]),
        ("slug", [OWN_SLUG, FOREIGN_SLUG]),
    ):
        if name in path_parameters:
            return st.one_of(
                st.just(path_parameters),
                st.sampled_from(real).map(lambda v, name=name: {name: v}),
                url_hostile_text.map(lambda v, name=name: {name: v}),
                st.sampled_from(real).map(lambda v, name=name: {name: v}),
            ).map(lambda extra: {**path_parameters, **extra})
    return st.just(path_parameters or None)


def flatmap_query(context, query):
    """Sometimes a query that finds something (output 0, a well-formed report), sometimes
    hostile names or values."""
    operation = context.operation
    path = operation.path if operation is not None else ""
    names = [p.name for p in operation.query] if operation is not None else []
    hostile = hostile_query(names or ["q"])
    if path.endswith("/content/"):
        choices = [{"index": 0}]
    elif path.endswith("/usage/"):
        choices = [{}, {"group_by": "model,day", "tz": "Europe/Paris"}, {"format": "csv"}]
        choices.append({"month": "2026-01", "group_by": "month"})
    else:
        return st.one_of(st.just(query), hostile)
    return st.one_of(st.just(query), st.sampled_from(choices), hostile)


def flatmap_body(context, body):
    """Sometimes a valid request (a real model, our workspace, the rest dropped), sometimes
    one value anywhere in the body (or a key) made hostile."""
    if not isinstance(body, dict):
        return st.just(body)
    variants = [st.just(body)]
    if body:
        variants.append(with_hostile_value(body))
    if "model" in body:
        valid = st.fixed_dictionaries(
            {
                "model": st.sampled_from(MODELS),
                "prompt": st.text(min_size=1, max_size=50).filter(
                    lambda t: hygiene.text_problem(t) is None and t.strip()
                ),
            }
        ).map(lambda core: {**core, "workspace": OWN_SLUG} if "workspace" in body else core)
        variants += [valid, valid.flatmap(with_hostile_value)]
    return st.one_of(variants)


def authorize(case) -> None:
    """A role for a case no hook saw (taken from its content, so such cases are spread over
    the roles too); a fifth of them keep the credentials schemathesis made up (anonymous, or
    a bad token)."""
    ours = {f"Token {token}" for token in TOKENS.values()}
    if (case.headers or {}).get("Authorization") not in ours:
        content = repr((case.path_parameters, case.query, case.body)).encode("utf-8", "replace")
        role = [*ROLES, None][zlib.crc32(content) % (len(ROLES) + 1)]
        if role is not None:
            _with_headers(case, {"Authorization": f"Token {TOKENS[role]}"})


def install_hooks(schema) -> None:
    for hook in (flatmap_case, flatmap_path_parameters, flatmap_query, flatmap_body):
        schema.hook(hook)


def seed_api_data() -> None:
    """Workspace alpha (a viewer, a member, an admin; jobs in every state) and a foreign beta
    (its admin is the "outsider"), each user with its fixed token (``TOKENS``)."""
    alpha, beta = make_workspace(OWN_SLUG), make_workspace(FOREIGN_SLUG)
    users = {
        "viewer": make_member(alpha, make_user("alpha-viewer"), Role.VIEWER),
        "member": make_member(alpha, make_user("alpha-member"), Role.MEMBER),
        "admin": make_member(alpha, make_user("alpha-admin"), Role.ADMIN),
        "outsider": make_member(beta, make_user("beta-admin"), Role.ADMIN),
    }
    make_job(alpha, public_id=OWN_JOBS["queued"])
    make_job(alpha, public_id=OWN_JOBS["failed"], status=JobStatus.FAILED, error="boom")
    pending = job_create(workspace=alpha, data={"model": "google/veo-3.1", "prompt": "slow"})
    job_submit(job_id=pending.pk)
    VideoJob.objects.filter(pk=pending.pk).update(public_id=OWN_JOBS["pending"])
    completed = {
        name: completed_job(alpha, prompt="A fox in snow") for name in ("completed", "stored")
    }
    for name, job in completed.items():
        VideoJob.objects.filter(pk=job.pk).update(public_id=OWN_JOBS[name])
    output = VideoOutput(
        job=completed["stored"],
        index=0,
        status=OutputStatus.STORED,
        content_type="video/mp4",
        size_bytes=SAMPLE.stat().st_size,
    )
    output.file.save("output-0.mp4", ContentFile(SAMPLE.read_bytes()), save=False)
    output.save()
    make_job(beta, public_id=FOREIGN_JOB, status=JobStatus.COMPLETED, provider_job_id="x")
    for role, user in users.items():
        Token.objects.create(user=user, key=TOKENS[role])
