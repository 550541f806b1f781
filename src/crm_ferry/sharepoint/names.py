"""Names SharePoint takes (:func:`safe_name`): kept in :mod:`crm_ferry.docnames`, where the
transform (which does no I/O and so imports nothing of this package) names folders too."""

from __future__ import annotations

from crm_ferry.docnames import FORBIDDEN, safe_name

__all__ = ["FORBIDDEN", "safe_name"]
