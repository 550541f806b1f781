"""The documented Web API examples, replayed against a fresh emulated tenant.

One module per article of Microsoft's Web API documentation
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/), named after the
article (``test_<article>.py``). Each test adapts one example to the fresh tenant (its own
rows instead of the article's ids) and asserts the status, the headers the example shows and
the shape of the body. The ``api`` fixture (raw HTTP through ``httpx.MockTransport``) comes
from ``tests/emulator/conftest.py``.
"""

from __future__ import annotations

# shared helpers live in tests/helpers/webapi.py (``from helpers.webapi import created_id``)
