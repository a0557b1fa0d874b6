"""The shipped sample clip and the synthetic benchmark body."""

from __future__ import annotations

import pytest

from videogen.simulator.content import SAMPLE_PATH, sample_bytes, synthetic_chunks


def test_sample_is_a_small_real_mp4():
    data = sample_bytes()
    assert SAMPLE_PATH.name == "sample.mp4"
    assert 1_000 < len(data) < 200_000
    assert data[4:8] == b"ftyp"
    assert b"moov" in data[:4096]  # faststart: the index comes first
    assert b"avc1" in data


@pytest.mark.parametrize(("size", "chunk"), [(0, 10), (5, 10), (1_000_001, 65_536), (100, 7)])
def test_synthetic_chunks_have_the_exact_size(size, chunk):
    chunks = list(synthetic_chunks(size, chunk))
    data = b"".join(chunks)
    assert len(data) == size
    assert all(len(c) <= max(chunk, 32) for c in chunks)
    if size >= 8:
        assert data[4:8] == b"ftyp"
