"""QuickXorHash as the OneDrive snippet describes it, checked against vectors made with the
``quickxorhash`` package (1.0.5, an independent C implementation), whole and in pieces."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_ferry.emulator.graph.hashes import QuickXorHash

VECTORS = [
    (b"", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    (b"a", "YQAAAAAAAAAAAAAAAQAAAAAAAAA="),
    (b"Hello, World!", "SCgDG9jwBhaA4ApvnQMbyBACAAA="),
    (bytes(range(256)), "QkGEfSisZcA7k+FCh71r2dbCayY="),
    (b"The contents of the file goes here.", "ReSWVXEBRVw+tb7EXyMlJRtIB58="),
]


@pytest.mark.parametrize(("data", "expected"), VECTORS)
def test_known_vectors(data: bytes, expected: str) -> None:
    h = QuickXorHash()
    h.update(data)
    assert h.b64digest() == expected


@given(st.binary(max_size=2000), st.lists(st.integers(1, 400), max_size=20))
def test_pieces_give_the_hash_of_the_whole(data: bytes, cuts: list[int]) -> None:
    whole = QuickXorHash()
    whole.update(data)
    pieces = QuickXorHash()
    offset = 0
    for cut in cuts:
        pieces.update(data[offset : offset + cut])
        offset += cut
    pieces.update(data[offset:])
    assert pieces.digest() == whole.digest()


def test_a_changed_byte_changes_the_hash() -> None:
    data = bytearray(random.Random(1).randbytes(5000))
    first = QuickXorHash()
    first.update(data)
    data[4321] ^= 1
    second = QuickXorHash()
    second.update(data)
    assert first.digest() != second.digest()
