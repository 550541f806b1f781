"""crm-ferry: carry a practice from The Practice (Practice.do) into Dynamics 365 Sales.

The library is the product; ``crm_ferry.cli`` is a thin command line over
``crm_ferry.commands``.
"""

from importlib.metadata import PackageNotFoundError, version

from crm_ferry.errors import FerryError

try:
    __version__ = version("crm-ferry")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["FerryError", "__version__"]
