"""Generated functions turning a row's cells into typed values and value errors.

Reading a row must cost as little Python as possible, so the per-column work is written
out as source code once per file and compiled (as ``dataclasses`` generates ``__init__``):
one straight-line block per column, no loop, no tuple unpacking, no converter call for
plain strings. :func:`field_lines` writes those blocks; :func:`compile_row_converter`
wraps them into a function returning a dict of values (the generic path), and
:meth:`~crm_ferry.sources.bundle._records.RecordBuilder.row_builder` into a function
returning the record itself (the fast path).

Values that repeat (amounts, dates, statuses) are converted once: a pure converter's
results are remembered by their text (:data:`MEMO` per converter, shared by every file of
a bundle), and a timestamp is looked up by its date and time-of-day halves
(:meth:`~crm_ferry.sources.values.TimeParsers._remember`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from crm_ferry.sources.fastinit import compiled
from crm_ferry.sources.values import Converter, TimeParsers, is_pure, to_str, to_text

RowConverter = Callable[[list[str]], tuple[dict[str, Any], list[tuple[str, str, str]] | None]]

MEMO = 2048
"""At most this many results are remembered per pure converter."""


def json_text(value: Any) -> str:
    """A JSON value as text: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def shown(value: Any) -> str:
    """A value as shown in a reject: text, at most 200 characters."""
    text = json_text(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _converted(n: int, target: str, indent: str, *, raw: str) -> list[str]:
    """Generated lines: ``target = c<n>(raw)``; a :class:`ValueError` is appended to
    ``errors`` as (header, ``raw`` as written in the reject, reason)."""
    return [
        f"{indent}try:",
        f"{indent}    {target} = c{n}(raw)",
        f"{indent}except ValueError as exc:",
        f"{indent}    if errors is None:",
        f"{indent}        errors = []",
        f"{indent}    errors.append((h{n}, {raw}, str(exc)))",
    ]


def field_lines(
    fields: list[tuple[int, str, Converter, str]],
    namespace: dict[str, Any],
    *,
    json: bool,
    memos: dict[Converter, dict[str, Any]] | None,
    target: Callable[[int, str], str] = lambda n, name: f"values[{name!r}]",
) -> list[str]:
    """The body of a generated row function converting ``fields`` from ``cells``: each
    value goes to ``target(n, name)`` (a dict item or a local), each error to ``errors``."""
    lines: list[str] = []
    for n, (idx, name, conv, header) in enumerate(fields):
        namespace[f"c{n}"] = conv
        namespace[f"h{n}"] = header
        lines.append(f"    raw = cells[{idx}]")
        if json and conv is to_str:
            lines += [
                "    if type(raw) is str:",
                "        raw = raw.strip()",
                "        if raw:",
                f"            {target(n, name)} = raw",
                "    elif raw is not None:",
                *_converted(n, target(n, name), " " * 8, raw="shown(raw)"),
            ]
        elif json:
            lines += [
                "    if raw is not None and (type(raw) is not str or (raw and not raw.isspace())):",
                *_converted(n, target(n, name), " " * 8, raw="shown(raw)"),
            ]
        elif conv is to_str:
            lines += [
                "    if raw:",
                "        raw = raw.strip()",
                "        if raw:",
                f"            {target(n, name)} = raw",
            ]
        elif isinstance(parsers := getattr(conv, "__self__", None), TimeParsers) and (
            getattr(conv, "__func__", None) is TimeParsers.ts
        ):
            # A timestamp: a known date followed by a known time of day is looked up
            # (see TimeParsers._remember); anything else goes through the converter.
            namespace[f"t{n}"] = parsers.times.get
            namespace[f"d{n}"] = parsers.days.get
            lines += [
                "    if raw:",
                f"        t = t{n}(raw[10:])",
                f"        d = d{n}(raw[:10]) if t is not None else None",
                "        if d is not None:",
                f"            {target(n, name)} = d + t",
                "        elif not raw.isspace():",
                *_converted(n, target(n, name), " " * 12, raw="raw"),
            ]
        elif conv is to_text:
            lines += [
                "    if raw and not raw.isspace():",  # to_text(raw) is raw itself
                f"        {target(n, name)} = raw",
            ]
        elif is_pure(conv):
            # Values repeat (amounts, dates, statuses): each result is remembered by its
            # text, up to MEMO texts per converter, shared by the columns using it.
            memo = {} if memos is None else memos.setdefault(conv, {})
            namespace[f"m{n}"] = memo
            namespace[f"g{n}"] = memo.get
            lines += [
                "    if raw:",
                f"        value = g{n}(raw)",
                "        if value is not None:",
                f"            {target(n, name)} = value",
                "        elif not raw.isspace():",
                *_converted(n, "value", " " * 12, raw="raw"),
                "            else:",
                f"                {target(n, name)} = value",
                f"                if len(m{n}) < {MEMO}:",
                f"                    m{n}[raw] = value",
            ]
        else:
            lines += [
                "    if raw and not raw.isspace():",
                *_converted(n, target(n, name), " " * 8, raw="raw"),
            ]
    return lines


def compile_row_converter(
    fields: list[tuple[int, str, Converter, str]],
    *,
    json: bool = False,
    memos: dict[Converter, dict[str, Any]] | None = None,
) -> RowConverter:
    """One function per file turning a row's cells into typed values and value errors.

    Blank cells are skipped (null); each converter's :class:`ValueError` becomes
    ``(header as written, raw value, reason)``. With ``json`` the cells are JSON values:
    null is skipped, and every value goes through its converter (numbers and booleans are
    not strings).
    """
    namespace: dict[str, Any] = {"shown": shown}
    lines = ["def convert(cells):", "    values = {}", "    errors = None"]
    lines += field_lines(fields, namespace, json=json, memos=memos)
    lines.append("    return values, errors")
    exec(compiled("\n".join(lines)), namespace)
    convert: RowConverter = namespace["convert"]
    return convert
