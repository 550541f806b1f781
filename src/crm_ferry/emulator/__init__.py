"""A Dataverse-compatible emulator: the Web API, its sign-in service, its limits and its faults.

``EmulatorApp`` is the whole environment as one request-to-response callable; use
``app.transport()`` with ``httpx.Client`` in process, or serve it over HTTP with
``crm_ferry.emulator.server.serve`` (``crm-ferry emulator serve``).
"""

from __future__ import annotations

from crm_ferry.emulator.app import EmulatorApp, EmulatorConfig

__all__ = ["EmulatorApp", "EmulatorConfig"]
