"""``videogen.services.rows``: single-row statements with the ORM's meaning, built once."""

from __future__ import annotations

import gc
import threading
import weakref
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DataError, OperationalError, connection, connections, transaction
from django.db.models import F
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from tests.factories import make_job, make_workspace
from videogen.models import JobStatus, UsageEntry, VideoJob
from videogen.services.rows import PreparedRead, update_row

pytestmark = pytest.mark.django_db

EXACT = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)


def job_read() -> PreparedRead[VideoJob]:
    return PreparedRead(lambda pk: VideoJob.objects.filter(pk=pk))


def locked_job_read() -> PreparedRead[VideoJob]:
    return PreparedRead(lambda pk: VideoJob.objects.select_for_update().filter(pk=pk))


def row_of(job: VideoJob) -> dict:
    return {f.attname: getattr(job, f.attname) for f in VideoJob._meta.concrete_fields}


@pytest.fixture
def full_job():
    """A job with a value in every kind of column: JSON, datetimes, UUID, booleans."""
    return make_job(
        status=JobStatus.COMPLETED,
        provider_job_id="rows-1",
        finished_at=EXACT,
        usage={"cost": "0.25", "is_byok": False},
        unsigned_urls=["https://x.test/0", "https://x.test/1"],
        provider_response={"id": "rows-1", "nested": {"a": [1, 2.5, None]}},
        error='quotes " and \\ backslashes',
        locally_closed=True,
        cost=Decimal("0.25"),
    )


# --- PreparedRead ---------------------------------------------------------------------------


def test_a_prepared_read_returns_the_instance_the_orm_returns(full_job):
    read = job_read()

    prepared = read.get(full_job.pk, using="default")

    assert row_of(prepared) == row_of(VideoJob.objects.get(pk=full_job.pk))
    assert prepared._state.adding is False
    assert prepared._state.db == "default"
    # The same again, from the SQL compiled the first time.
    assert row_of(read.get(full_job.pk, using="default")) == row_of(prepared)


def test_a_prepared_read_of_no_row_is_none(full_job):
    assert job_read().get(full_job.pk + 1000, using="default") is None


def test_a_prepared_read_loads_only_what_only_names(full_job):
    fields = ("pk", "job_id", "cost", "is_byok")
    read = PreparedRead(
        lambda job_id: UsageEntry.objects.filter(job_id=job_id).only(*fields), by="job"
    )

    entry = read.get(full_job.pk, using="default")

    orm = UsageEntry.objects.only(*fields).get(job_id=full_job.pk)
    assert entry.get_deferred_fields() == orm.get_deferred_fields()
    assert (entry.pk, entry.job_id, entry.cost, entry.is_byok) == (
        orm.pk,
        orm.job_id,
        Decimal("0.25"),
        False,
    )
    assert entry.model == full_job.model  # a deferred field still loads on access


@pytest.mark.postgres  # SQLite has no row locks: Django compiles no FOR UPDATE, refuses nothing
@pytest.mark.django_db(transaction=True)  # outside the test's own transaction
def test_a_locking_read_is_refused_outside_a_transaction(full_job):
    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        locked_job_read().get(full_job.pk, using="default")


def test_a_locking_read_compiled_inside_a_transaction_runs_one_statement(full_job):
    read = locked_job_read()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        job = read.get(full_job.pk, using="default")

    assert job.pk == full_job.pk
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    selects = [s for s in statements if s.upper().startswith("SELECT")]
    assert len(selects) == 1
    if connection.features.has_select_for_update:
        assert selects[0].upper().endswith("FOR UPDATE")


def test_a_prepared_read_prepares_its_value_as_the_orms_lookup_does(full_job):
    read = job_read()

    with pytest.raises(ValueError, match="expected a number but got '7x'"):
        VideoJob.objects.get(pk="7x")
    with pytest.raises(ValueError, match="expected a number but got '7x'"):
        read.get("7x", using="default")
    assert read.get(str(full_job.pk), using="default").pk == full_job.pk
    # Beyond the column's range: the ORM finds nothing without asking the database.
    assert not VideoJob.objects.filter(pk=2**63).exists()
    with CaptureQueriesContext(connection) as queries:
        assert read.get(2**63, using="default") is None
    assert queries.captured_queries == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_its_thread_left_is_not_kept_alive_by_a_prepared_read():
    """Each connection keeps its own converters (its backend's), on itself: once its thread
    is gone (an ASGI request, a runserver thread), nothing here keeps it open."""
    job = make_job(workspace=make_workspace())
    read = job_read()
    left: list[weakref.ref] = []

    def reader() -> None:
        assert read.get(job.pk, using="default").pk == job.pk
        left.append(weakref.ref(connections["default"]))
        connections["default"].close()

    for _ in range(3):
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join(10)
    gc.collect()

    assert len(left) == 3
    assert [ref() for ref in left] == [None, None, None]


@pytest.mark.parametrize(
    "build",
    [
        lambda pk: VideoJob.objects.filter(pk=pk, status="queued"),  # two parameters
        lambda pk: VideoJob.objects.select_related("workspace").filter(pk=pk),  # a join
        lambda pk: VideoJob.objects.filter(pk=pk).values("status"),  # not instances
        lambda pk: VideoJob.objects.filter(pk=pk).extra(select={"one": "1"}),  # an extra column
    ],
    ids=["two-parameters", "select-related", "values", "extra"],
)
def test_a_read_that_is_not_one_row_by_one_value_is_refused(full_job, build):
    with pytest.raises(ValueError, match="prepared read"):
        PreparedRead(build).get(full_job.pk, using="default")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_prepared_locking_read_holds_the_row_lock_until_commit():
    job = make_job(workspace=make_workspace())
    read = locked_job_read()
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                read.get(job.pk, using="default")
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with pytest.raises(OperationalError, match="could not obtain lock"), transaction.atomic():
            list(VideoJob.objects.select_for_update(nowait=True).filter(pk=job.pk))
    finally:
        release.set()
        holder.join(10)
    with transaction.atomic():  # released at the holder's commit
        assert read.get(job.pk, using="default").pk == job.pk


@pytest.mark.django_db(transaction=True)
def test_each_thread_reads_through_its_own_connection():
    jobs = [make_job(workspace=make_workspace(), provider_job_id=f"t-{i}") for i in range(4)]
    read = job_read()
    found: dict[int, str] = {}

    def reader(job: VideoJob) -> None:
        try:
            found[job.pk] = read.get(job.pk, using="default").provider_job_id
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert found == {job.pk: job.provider_job_id for job in jobs}


# --- update_row -----------------------------------------------------------------------------


def test_update_row_writes_what_the_orm_update_writes():
    workspace = make_workspace()
    by_hand, by_orm = (make_job(workspace=workspace, version=3) for _ in range(2))
    values = {
        "status": JobStatus.COMPLETED,
        "finished_at": EXACT,
        "usage": {"cost": Decimal("0.10"), "is_byok": False},
        "unsigned_urls": ["https://x.test/0"],
        "provider_response": {"nested": {"a": [1, None, "é"]}},
        "error": 'quotes " and \\ backslashes',
        "locally_closed": True,
        "next_poll_at": None,
    }

    written = update_row(VideoJob, by_hand.pk, values, expect={"version": 3}, increment=["version"])
    VideoJob.objects.filter(pk=by_orm.pk, version=3).update(**values, version=F("version") + 1)

    assert written == 1
    ignored = {"id", "public_id", "version", "created_at", "updated_at"}

    def written_row(pk: int) -> dict:
        return {k: v for k, v in row_of(VideoJob.objects.get(pk=pk)).items() if k not in ignored}

    assert written_row(by_hand.pk) == written_row(by_orm.pk)
    assert VideoJob.objects.get(pk=by_hand.pk).version == 4


def test_update_row_matches_nothing_when_the_expected_value_differs():
    job = make_job(version=5)

    written = update_row(
        VideoJob, job.pk, {"status": JobStatus.FAILED}, expect={"version": 4}, increment=["version"]
    )

    job.refresh_from_db()
    assert (written, job.status, job.version) == (0, JobStatus.QUEUED, 5)


def test_update_row_expecting_none_matches_a_null_column_as_the_orm_does():
    job = make_job(provider_job_id=None)

    written = update_row(VideoJob, job.pk, {"error": "x"}, expect={"provider_job_id": None})

    assert written == 1
    assert VideoJob.objects.get(pk=job.pk).error == "x"


def test_update_row_leaves_an_expression_to_the_orm():
    job = make_job(duration=4)

    written = update_row(VideoJob, job.pk, {"duration": F("duration") * 2})

    assert written == 1
    assert VideoJob.objects.get(pk=job.pk).duration == 8


@pytest.mark.postgres
def test_a_failed_update_row_marks_the_transaction_for_rollback():
    job = make_job()
    too_long = "x" * (VideoJob._meta.get_field("provider_status").max_length + 1)

    with transaction.atomic():
        with pytest.raises(DataError):
            update_row(VideoJob, job.pk, {"provider_status": too_long})
        assert connection.needs_rollback  # as QuerySet.update leaves it
