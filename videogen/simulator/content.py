"""The video bytes served by ``GET /videos/{id}/content``.

By default the real 2-second ``assets/sample.mp4`` (made by ``assets/make_sample.sh``), read
once. Benchmarks can ask for a synthetic body of any size instead: it starts with the
sample's ``ftyp`` box and is generated chunk by chunk, so memory stays constant.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "sample.mp4"
CONTENT_TYPE = "video/mp4"


@functools.cache
def sample_bytes() -> bytes:
    return SAMPLE_PATH.read_bytes()


def _ftyp_box() -> bytes:
    data = sample_bytes()
    size = int.from_bytes(data[:4], "big")
    return data[:size]


@functools.lru_cache(maxsize=4)
def _filler(chunk_bytes: int) -> bytes:
    return bytes(chunk_bytes)


def synthetic_chunks(size: int, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """Yield exactly ``size`` bytes: the ftyp box, then zero filler, ``chunk_bytes`` at a time."""
    chunk_bytes = max(1, chunk_bytes)
    head = _ftyp_box()[:size]
    if head:
        yield head
    remaining = size - len(head)
    filler = _filler(chunk_bytes)
    while remaining > 0:
        n = min(remaining, chunk_bytes)
        yield filler if n == chunk_bytes else filler[:n]
        remaining -= n
