"""Compact id sets: 64-bit hashes of ids in flat arrays, with one integer per id.

Checking references over a million rows needs every parent id at hand. A Python ``set``
of id strings costs well over 100 bytes per id; this table costs 12 bytes per slot (an
8-byte hash and a 4-byte value, at most two thirds of the slots full), so a million ids
stay under about 36 MB. The value is whatever the caller needs: discovery stores how many
clients share an email, and where each invoice sits in its per-invoice arrays.

Hashes are Python's own 64-bit string hash (stable within one process, which is all a
table lives for). Two different ids colliding has a probability of about n²/2⁶⁵ (about
3·10⁻⁸ for a million ids); a collision would only make two ids look alike, never lose a row.
"""

from __future__ import annotations

from array import array

MASK64 = (1 << 64) - 1
"""``id_hash(v)`` is ``(hash(v) & MASK64) or 1``; generated row functions inline it."""


def id_hash(value: str) -> int:
    """A non-zero unsigned 64-bit hash of ``value`` (zero marks an empty slot)."""
    return (hash(value) & MASK64) or 1


class IdTable:
    """Open addressing with linear probing over ``array('Q')`` keys and ``array('i')`` values."""

    __slots__ = ("_keys", "_mask", "_size", "_values")

    def __init__(self, capacity: int = 1024) -> None:
        slots = 16
        while slots * 2 < capacity * 3:
            slots *= 2
        self._keys = array("Q", bytes(8 * slots))
        self._values = array("i", bytes(4 * slots))
        self._mask = slots - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def get(self, h: int) -> int | None:
        """The value stored for hash ``h``, or None."""
        i = self._slot(h)
        return self._values[i] if self._keys[i] else None

    def __contains__(self, h: int) -> bool:
        return self.get(h) is not None

    def add(self, h: int, value: int) -> int | None:
        """Store ``value`` for ``h`` unless present; return the value already there, or None."""
        i = self._slot(h)
        if self._keys[i]:
            return self._values[i]
        self._insert(i, h, value)
        return None

    def put(self, h: int, value: int) -> None:
        """Store ``value`` for ``h``, replacing any value already there."""
        i = self._slot(h)
        if self._keys[i]:
            self._values[i] = value
        else:
            self._insert(i, h, value)

    def _slot(self, h: int) -> int:
        """The slot holding ``h``, or the empty slot where it would go."""
        keys = self._keys
        mask = self._mask
        i = h & mask
        while True:
            k = keys[i]
            if k == h or k == 0:
                return i
            i = (i + 1) & mask

    def _insert(self, i: int, h: int, value: int) -> None:
        self._keys[i] = h
        self._values[i] = value
        self._size += 1
        if self._size * 3 > (self._mask + 1) * 2:
            self._grow()

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        slots = len(old_keys) * 2
        keys = array("Q", bytes(8 * slots))
        values = array("i", bytes(4 * slots))
        mask = slots - 1
        for k, v in zip(old_keys, old_values, strict=True):
            if k:
                i = k & mask
                while keys[i]:
                    i = (i + 1) & mask
                keys[i] = k
                values[i] = v
        self._keys, self._values, self._mask = keys, values, mask


class IdList:
    """An append-only list of short strings in one byte buffer (about len + 4 bytes each).

    Used to name records found only at the end of a pass (clients sharing an email with a
    later client, invoices whose items come later) without keeping a Python string per row.
    """

    __slots__ = ("_data", "_ends")

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("Q")

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, value: str) -> int:
        """Add ``value``; returns its position."""
        self._data += value.encode("utf-8")
        self._ends.append(len(self._data))
        return len(self._ends) - 1

    def __getitem__(self, index: int) -> str:
        start = self._ends[index - 1] if index else 0
        return self._data[start : self._ends[index]].decode("utf-8")
