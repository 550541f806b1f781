"""How the metadata API refuses a request: :func:`bad` makes the :class:`Fault` it answers.

The texts of validation errors are the emulator's own where Microsoft's are not documented;
their code is ``0x80040203`` (InvalidArgument) unless noted.
"""

from __future__ import annotations

from crm_ferry.emulator.validation import (
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    OBJECT_DOES_NOT_EXIST,
    UNKNOWN_PROPERTY,
    Fault,
)

DUPLICATE = DUPLICATE_RECORD
"""A definition of that name already exists (0x80040237)."""
NOT_FOUND = OBJECT_DOES_NOT_EXIST
"""No definition (or table, solution, choice) with that key (0x80040217)."""
ODATA_ERROR = UNKNOWN_PROPERTY
"""What the OData layer refuses (a path segment or property it can't find, a query option or
method it doesn't take): 0x80060888, the code Dataverse gives "Resource not found for the
segment" and "Could not find a property named"."""


def bad(message: str, *, code: str = INVALID_ARGUMENT, status: int = 400) -> Fault:
    return Fault(status, code, message)


__all__ = ["DUPLICATE", "INVALID_ARGUMENT", "NOT_FOUND", "ODATA_ERROR", "bad"]
