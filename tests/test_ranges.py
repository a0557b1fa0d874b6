"""HTTP ranges for stored files (``videogen.ranges``), through the job page's video URL."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from tests.factories import make_job, make_member, make_workspace
from videogen.models import OutputStatus, Role, VideoOutput
from videogen.ranges import Unsatisfiable, parse_range

pytestmark = pytest.mark.django_db

BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 10239)),
        ("bytes=-100", (10140, 10239)),
        ("bytes=-99999", (0, 10239)),
        ("bytes=10000-99999", (10000, 10239)),
        ("bytes = 5-9", (5, 9)),
        ("bytes=0-0", (0, 0)),
        ("bytes=9-5", None),  # invalid: the whole file
        ("bytes=0-1,5-9", None),  # several ranges: the whole file
        ("items=0-9", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("bytes=" + "9" * 40 + "-", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, len(BODY)) == expected


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0"])
def test_ranges_past_the_end_are_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, len(BODY))


@pytest.fixture
def stored(settings, media_storage):
    """A completed job with a stored output holding ``BODY``, and a member's client."""
    ws = make_workspace("studio")
    member = make_member(ws, role=Role.VIEWER)
    job = make_job(ws, status="completed", prompt="A heron at dawn", cost="1")
    output = VideoOutput(
        job=job,
        index=0,
        status=OutputStatus.STORED,
        content_type="video/mp4",
        size_bytes=len(BODY),
        sha256=hashlib.sha256(BODY).hexdigest(),
        stored_at=timezone.now(),
    )
    output.file.save("output-0.mp4", ContentFile(BODY), save=False)
    output.save()
    client = Client()
    client.force_login(member)
    url = reverse("videogen:job-output", args=[ws.slug, job.public_id, 0])
    return client, url, output


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_range_is_served_as_206_partial_content(stored):
    client, url, _ = stored
    response = client.get(url, headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 1000-1999/10240"
    assert response["Content-Length"] == "1000"
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == BODY[1000:2000]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("bytes=10000-", BODY[10000:]), ("bytes=-240", BODY[-240:]), ("bytes=0-0", BODY[:1])],
)
def test_open_and_suffix_ranges(stored, header, expected):
    client, url, _ = stored
    response = client.get(url, headers={"Range": header})
    assert response.status_code == 206 and body(response) == expected


def test_an_unsatisfiable_range_is_416_with_the_size(stored):
    client, url, _ = stored
    response = client.get(url, headers={"Range": "bytes=20000-"})
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */10240"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=9-5", "lines=1-2", "bytes=\x00"])
def test_ranges_not_served_get_the_whole_file(stored, header):
    client, url, _ = stored
    response = client.get(url, headers={"Range": header})
    assert response.status_code == 200 and body(response) == BODY


def test_a_stale_if_range_gets_the_whole_file_and_a_current_one_the_range(stored):
    client, url, output = stored
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and body(stale) == BODY
    current = client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{output.sha256}"'})
    assert current.status_code == 206 and body(current) == BODY[:10]
    by_date = client.get(
        url, headers={"Range": "bytes=0-9", "If-Range": http_date(output.stored_at.timestamp())}
    )
    assert by_date.status_code == 206


def test_the_browser_revalidates_with_the_etag(stored):
    client, url, output = stored
    first = client.get(url)
    assert first["ETag"] == f'"{output.sha256}"' and "private" in first["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304


def test_head_answers_the_size_without_a_body(stored):
    client, url, _ = stored
    response = client.head(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206 and response["Content-Length"] == "10"


def test_download_asks_the_browser_to_save_the_file(stored):
    client, url, _ = stored
    response = client.get(url, {"download": "1"})
    assert response["Content-Disposition"].startswith('attachment; filename="a-heron-at-dawn-')
    assert response["Content-Disposition"].endswith('.mp4"')
    ranged = client.get(url, {"download": "1"}, headers={"Range": "bytes=0-9"})
    assert ranged["Content-Disposition"].startswith("attachment;")


class SignedURLStorage(InMemoryStorage):
    """Like S3: serves its own files at signed absolute URLs."""

    def url(self, name, parameters=None):
        extra = "&disposition=attachment" if parameters else ""
        return f"https://bucket.example/{name}?signature=abc{extra}"


def test_storages_that_serve_their_own_files_are_used_directly(stored, monkeypatch):
    client, url, output = stored
    # The field's storage is resolved once (OUTPUT_STORAGE, when models load): swap it.
    monkeypatch.setattr(VideoOutput._meta.get_field("file"), "storage", SignedURLStorage())
    output.refresh_from_db()
    output.file.save("output-0.mp4", ContentFile(BODY), save=True)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("https://bucket.example/")
    assert response["Location"].endswith("signature=abc")
    download = client.get(url, {"download": "1"})
    assert download["Location"].endswith("&disposition=attachment")
