"""What every command of the CLI shares: the error boundary, the global options (``--project``,
``--traceback``, accepted before and after the subcommand), ``--json``, ``--source``, and
turning a result into output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from crm_ferry import commands
from crm_ferry.cli.render import print_error
from crm_ferry.errors import FerryError, Interrupted
from crm_ferry.settings import Settings

__all__ = [
    "FerryGroup",
    "State",
    "command_options",
    "emit",
    "json_option",
    "project_option",
    "project_settings",
    "settings_of",
    "snapshot_option",
    "source_option",
    "traceback_option",
]


class _Result(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Result)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """The global options, wherever on the command line they were given."""

    project: Path | None = None
    traceback: bool = False
    json: bool = False


class FerryGroup(click.Group):
    """A click group that turns :class:`FerryError` into a message and an exit code.

    A writing command stopped by Ctrl-C raises :class:`Interrupted` (its runs marked
    interrupted, exit 130); with ``--json`` that still prints a result (``state``
    ``interrupted``, the runs) with the error. Ctrl-C anywhere else exits 130 too."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt:
                raise Interrupted(
                    "interrupted",
                    hint="run the command again",
                    command=ctx.invoked_subcommand or "",
                ) from None
        except FerryError as exc:
            state = ctx.find_object(State) or State()
            if state.traceback:
                raise
            if state.json:
                body: dict[str, Any] = dict(exc.result) if isinstance(exc, Interrupted) else {}
                body["error"] = _error_body(exc)
                click.echo(json.dumps(body, indent=2, default=str))
            else:
                print_error(exc)
            sys.exit(exc.exit_code)


def _error_body(exc: FerryError) -> dict[str, Any]:
    return {"type": type(exc).__name__, "exit_code": exc.exit_code, **exc.attrs()}


def _remember(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(State), attr, value)
        return value

    return callback


def project_option(fn: F) -> F:
    return click.option(
        "--project",
        "-C",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        expose_value=False,
        callback=_remember("project"),
        help="The migration project folder holding ferry.toml (default: the current folder).",
    )(fn)


def traceback_option(fn: F) -> F:
    return click.option(
        "--traceback",
        is_flag=True,
        expose_value=False,
        callback=_remember("traceback"),
        help="Show the full traceback of an error.",
    )(fn)


def json_option(fn: F) -> F:
    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.ensure_object(State).json = value
        return value

    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=remember,
        is_eager=True,
        help="Print the result as JSON on stdout.",
    )(fn)


def command_options(fn: F) -> F:
    """``--json`` (passed as ``as_json``), and the global ``--project`` and ``--traceback``."""
    return project_option(traceback_option(json_option(fn)))


def source_option(
    *, required: bool = False, help: str = "The export bundle (folder or .zip)."
) -> Callable[[F], F]:
    """``--source/-s PATH``; without it, ``[source] path`` from ``ferry.toml``."""
    text = help if required else f"{help} Default: [source] path in ferry.toml."
    return click.option(
        "--source",
        "-s",
        type=click.Path(path_type=Path),
        required=required,
        default=None,
        help=text,
    )


def snapshot_option(help_text: str) -> Callable[[F], F]:
    """``--snapshot FILE``: a tenant snapshot written by ``crm-ferry snapshot``."""
    return click.option(
        "--snapshot",
        "snapshot",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        metavar="FILE",
        help=help_text,
    )


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """The settings of the project folder given (``--project``, else the current folder)."""
    return Settings.load(ctx.ensure_object(State).project, **overrides)


def project_settings(ctx: click.Context, **overrides: Any) -> Settings:
    """:func:`settings_of` for a verb that works in a project: a folder that does not exist
    or holds no ``ferry.toml`` is said before anything else (``commands.require_project``)."""
    settings = settings_of(ctx, **overrides)
    commands.require_project(settings)
    return settings


def emit(result: R, as_json: bool, render: Callable[[R], None]) -> None:
    """Print ``result`` (its table, or ``--json``). When the result says that something it
    meant to do was left undone (an ``incomplete()`` that returns an error), the command
    then fails with that error's exit code: on the console its message and hint follow the
    table; with ``--json`` the result carries it as ``"error"`` (one document on stdout)."""
    check = getattr(result, "incomplete", None)
    problem = check() if callable(check) else None
    if as_json:
        body = result.as_dict()
        if problem is not None:
            body["error"] = _error_body(problem)
        click.echo(json.dumps(body, indent=2, default=str))
        if problem is not None:
            sys.exit(problem.exit_code)
        return
    render(result)
    if problem is not None:
        raise problem
