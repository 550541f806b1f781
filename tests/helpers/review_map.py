"""What the map page's tests share: the generated project's users and doubtful lines, and
the cautious threshold that makes its custom properties doubtful."""

from __future__ import annotations

from crm_ferry.mapping.spec import MapDocument
from helpers.review import ReviewProject

ROBIN = "robin.mentor@crmferry.onmicrosoft.com"
ALEX = "alex.admin@crmferry.onmicrosoft.com"
DOUBTFUL = 20
"""Lines at confidence 0.9 in the generated map (custom properties on account and contact)."""


def raise_threshold(review: ReviewProject, threshold: float = 0.95) -> None:
    """``confirm_threshold`` raised in the project's mapping.yaml (comments kept)."""
    doc = MapDocument.load(review.map_path)
    doc.data["confirm_threshold"] = threshold
    doc.save()
