"""Synthetic, realistic, deterministic export bundles of any size.

``generate_bundle(out, clients=N, seed=S)`` writes a The Practice export bundle that follows
the bundle contract: every object file, a ``files/`` folder of small real documents (PDF,
PNG, DOCX), custom properties of every inferable type, and a small, fixed rate of planted
edge cases (accented and punctuated names, shared and missing emails, dangling references,
inline images, a mismatched invoice, linked and oversized files). On request it adds linked
files with their downloads beside the bundle (``linked_files``: ``<bundle>.downloads/``,
all but one planted missing) and client groups with tags (``groups``).

Why it exists: tests, benchmarks and the demo need bundles that look like a real practice,
at any size, without anyone's real data; and they need to know exactly which problems are
in them. Beside the bundle (outside it) the generator writes ``<bundle>.truth.json``: the
row counts, every planted dangling reference and data-quality finding (named exactly as
discovery names them) and the intended custom property types.

The same seed and size give byte-identical output, zip included: nothing reads the clock,
JSON keys are sorted, zip entries have a fixed timestamp and order. Generation streams:
each client's rows are written as the client is, so memory stays flat (100,000 clients,
about 560 MB of bundle, peak at about 50 MB resident).

The parts:

* ``_generate``: :func:`generate_bundle` (staging, zipping, the truth file beside it);
* ``_practice``: :class:`Practice`, the one pass over the clients, built from
  ``_state`` (the seeded generator, ids, the edge-case schedule), ``_clients`` (clients,
  families, custom properties), ``_sessions`` (sessions, notes, activities),
  ``_billing`` (packages, invoices, items, payments), ``_attachments`` (documents),
  ``_linked`` (linked files and their downloads) and ``_groups`` (client groups);
* ``_truth``: the ground truth, in discovery's vocabulary;
* ``_outputs``: the files written and their columns; ``_io``: the row writers;
* ``_workbook``: the Excel variant (``generate_bundle(..., workbook=True)``): the same rows
  as sheets of ``.xlsx`` workbooks, with Excel's types;
* ``_config``: service types, templates, automations, integrations, reports;
* ``_text``: word pools and text builders; ``_binary``: PDF, PNG, DOCX and zip bytes.
"""

from crm_ferry.sources.generator._generate import (
    GenerateResult,
    downloads_path_for,
    generate_bundle,
    truth_path_for,
)
from crm_ferry.sources.generator._workbook import WorkbookLayout

__all__ = [
    "GenerateResult",
    "WorkbookLayout",
    "downloads_path_for",
    "generate_bundle",
    "truth_path_for",
]
