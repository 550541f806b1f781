"""The review page: a local web application where a consultant reviews, edits and confirms
the map, previews what a record becomes, reads the sample and verify reports, accepts their
differences, and watches the runs.

It is a user interface like :mod:`crm_ferry.cli`: it calls the verbs of
:mod:`crm_ferry.commands` (the same round-trip editor of ``mapping.yaml``, the same journaled
acceptance), never the other way round. :func:`build_app` is the Starlette application;
:class:`ReviewServer` serves it with uvicorn on 127.0.0.1 behind a random per-start token.
"""

from crm_ferry.review.app import build_app
from crm_ferry.review.server import ReviewServer, is_loopback
from crm_ferry.review.state import ReviewState, new_token

__all__ = ["ReviewServer", "ReviewState", "build_app", "is_loopback", "new_token"]
