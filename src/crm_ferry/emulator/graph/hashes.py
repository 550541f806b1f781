"""The hashes a SharePoint document library reports for a file: QuickXorHash (and SHA-256
for the emulator's own dump).

SharePoint and OneDrive for Business give only ``quickXorHash``: "In OneDrive for Business
and SharePoint Server 2016, sha1Hash and crc32Hash, and sha256Hash are not available"
(https://learn.microsoft.com/graph/api/resources/hashes, microsoft-graph-docs-contrib
commit 00e146a92755a19260d07a735eee6e9df034f45f).

QuickXorHash, as the OneDrive code snippet describes it
(https://learn.microsoft.com/onedrive/developer/code-snippets/quickxorhash, OneDrive/
onedrive-api-docs commit 1edfaded1b2e23a6e0fddfb4fe10860c281a6487): a 160-bit vector; byte
``i`` of the data is XORed into it rotated left by ``11 * i`` bits (modulo 160); the length
of the data, as 8 little-endian bytes, is XORed into the last 8 of the vector's 20 bytes
(little-endian); the result is sent in Base64.

Because ``11 * 160`` is a multiple of 160, bytes 160 apart land on the same bits: the data
is first folded into 160 columns by XOR (big-integer arithmetic, a few operations per
fold, not one per byte), and only the 160 column bytes are rotated into place at the end.
That keeps a 150 MB upload hashed at the speed of memory, chunk by chunk as it arrives.
"""

from __future__ import annotations

import base64
import hashlib

WIDTH = 160
"""Bits in the hash."""
SHIFT = 11
"""Bits each byte is rotated further than the one before."""
PERIOD = 160
"""Bytes after which the rotations repeat (``SHIFT * PERIOD`` is a multiple of ``WIDTH``)."""
_PERIOD_BITS = PERIOD * 8
_MASK = (1 << WIDTH) - 1
_SLICE = 4 * 1024 * 1024
"""Bytes folded at once (bounds the big integers' size)."""


def _fold(value: int, blocks: int) -> int:
    """XOR of the ``blocks`` consecutive 160-byte blocks of ``value`` (little-endian)."""
    while blocks > 1:
        half = blocks // 2
        shift = half * _PERIOD_BITS
        value = (value & ((1 << shift) - 1)) ^ (value >> shift)
        blocks -= half
    return value


def _rotate(byte: int, bits: int) -> int:
    return ((byte << bits) | (byte >> (WIDTH - bits))) & _MASK


class QuickXorHash:
    """Streaming QuickXorHash: :meth:`update` with each piece, in order; :meth:`b64digest`."""

    __slots__ = ("_columns", "length")

    def __init__(self) -> None:
        self._columns = 0
        """Column ``k`` (bits ``8k..8k+7``): the XOR of every byte at an index ``≡ k`` mod 160."""
        self.length = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _SLICE):
            piece = view[start : start + _SLICE]
            offset = self.length % PERIOD
            value = int.from_bytes(piece, "little") << (8 * offset)
            blocks = -(-(offset + len(piece)) // PERIOD)
            self._columns ^= _fold(value, blocks)
            self.length += len(piece)

    def digest(self) -> bytes:
        vector = 0
        for k in range(PERIOD):
            byte = (self._columns >> (8 * k)) & 0xFF
            if byte:
                vector ^= _rotate(byte, (SHIFT * k) % WIDTH)
        out = bytearray(vector.to_bytes(WIDTH // 8, "little"))
        for i, byte in enumerate(self.length.to_bytes(8, "little")):
            out[WIDTH // 8 - 8 + i] ^= byte
        return bytes(out)

    def b64digest(self) -> str:
        """The digest as the ``quickXorHash`` property gives it (Base64)."""
        return base64.b64encode(self.digest()).decode("ascii")


class ContentHashes:
    """QuickXorHash and SHA-256 of content written in order (one pass over each piece)."""

    __slots__ = ("quick_xor", "sha256")

    def __init__(self) -> None:
        self.quick_xor = QuickXorHash()
        self.sha256 = hashlib.sha256()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.quick_xor.update(data)
        self.sha256.update(data)
