"""The transform context of a load, from a first pass over the bundle's parent objects.

Transform looks records up across objects (a note's session, an invoice's client); this
pass collects what it needs (:class:`~crm_ferry.transform.context.ContextBuilder`), kept on
disk in a run's scratch store when one is given, so memory stays flat in the bundle's size.
"""

from __future__ import annotations

from crm_ferry.journal.scratch import RefStore
from crm_ferry.model import Record
from crm_ferry.sources.bundle import Bundle
from crm_ferry.transform.context import ContextBuilder, TransformContext

__all__ = ["build_context"]


def build_context(bundle: Bundle, store: RefStore | None = None) -> TransformContext:
    """The cross-record facts transform needs, from a first pass over the parent objects
    (kept in ``store``, on disk, when one is given)."""
    builder = ContextBuilder(store.table if store is not None else None)
    for obj in ContextBuilder.OBJECTS:
        if obj in bundle.objects:
            for item in bundle.read(obj):
                if isinstance(item, Record):
                    builder.add(item)

    return builder.build(
        read_attachment=bundle.read_attachment,  # its size checked before it is read
        default_currency=bundle.manifest.currency,
        attachment_size=bundle.attachment_size,
        attachment_sha256=bundle.attachment_sha256,
    )
