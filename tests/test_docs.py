"""Every command of the CLI has help text and a row in the README's command table, and the
README's exit-code table is the program's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import crm_ferry.cli
import crm_ferry.commands  # every error class loaded
from crm_ferry.cli import cli
from crm_ferry.errors import FerryError

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def command_cells(readme: str) -> list[str]:
    """The first cell of every row of the table under ``## Commands``."""
    section = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]


def documented(path: tuple[str, ...], cells: list[str]) -> bool:
    """Whether a row names the command: ``crm-ferry <command>``, or for a subcommand, the
    group's row naming the subcommand too (``crm-ferry map propose \\| show``)."""
    head = re.compile(rf"crm-ferry {re.escape(path[0])}\b")
    for cell in cells:
        if not head.search(cell):
            continue
        words = set(re.findall(r"[\w-]+", cell))
        if all(name in words for name in path[1:]):
            return True
    return False


COMMANDS = list(_commands(cli))


def test_the_cli_has_commands() -> None:
    assert ("migrate",) in COMMANDS
    assert ("map", "confirm") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    command = _command(path)
    assert (command.help or "").strip(), f"crm-ferry {' '.join(path)} has no help text"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_is_in_the_readme(path: tuple[str, ...]) -> None:
    cells = command_cells(README.read_text(encoding="utf-8"))
    assert documented(path, cells), f"crm-ferry {' '.join(path)} has no row in README's table"


def test_a_missing_row_is_noticed() -> None:
    cells = command_cells(README.read_text(encoding="utf-8"))
    without = [c for c in cells if "crm-ferry purge" not in c]
    assert documented(("purge",), cells)
    assert not documented(("purge",), without)
    assert not documented(("map", "unknown"), cells)


def _error_classes(cls: type[FerryError]) -> Iterator[type[FerryError]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _error_classes(sub)


def test_the_exit_code_table_is_the_program_s() -> None:
    """The README's exit-code table lists exactly the codes the program exits with: every
    error class's code, the literal codes of the CLI, 0 and 1."""
    section = README.read_text(encoding="utf-8").split("\n### Exit codes\n", 1)[1]
    table = section.strip().split("\n\n", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    source = (Path(crm_ferry.cli.__file__).parent / "main.py").read_text(encoding="utf-8")
    literal = {int(m) for m in re.findall(r"sys\.exit\((\d+)\)", source)}
    program = {0, 1} | {c.exit_code for c in _error_classes(FerryError)} | literal
    assert documented == program


# ---------------------------------------------------------------------------
# The README's error-message examples are what the program prints

HOME = "/home/ada"
EMULATOR = "http://127.0.0.1:8765"


def error_examples(readme: str) -> list[tuple[str, list[str]]]:
    """``(command, printed lines)`` of the block under ``### Error messages``."""
    section = readme.split("\n### Error messages\n", 1)[1]
    block = section.split("```console\n", 1)[1].split("\n```", 1)[0]
    examples: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            examples.append((line[2:].split("  #", 1)[0].strip(), []))
        else:
            examples[-1][1].append(line)
    return examples


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples' /home/ada: an empty folder to run them in."""
    folder = tmp_path / "ada"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def served_emulator(tmp_path: Path) -> Iterator[str]:
    from crm_ferry.settings import Settings

    server = crm_ferry.commands.emulator_serve(Settings(project_dir=tmp_path))
    try:
        yield server.url
    finally:
        server.shutdown()
        server.app.close()


def _doctor_project(home: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's project: the served emulator, and an authority nothing answers at."""
    from click.testing import CliRunner

    from crm_ferry.emulator.auth import DEFAULT_CLIENT

    args = ["init", str(home), "--url", url, "--tenant", "contoso"]
    args += ["--client-id", DEFAULT_CLIENT.client_id, "--authority", "http://127.0.0.1:1/contoso"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    monkeypatch.setenv("CRM_FERRY_CLIENT_SECRET", DEFAULT_CLIENT.secret)


def test_the_error_examples_are_what_the_program_prints(
    home: Path, served_emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    examples = error_examples(README.read_text(encoding="utf-8"))
    assert [c.split()[1] for c, _ in examples] == ["migrate", "--project", "init", "doctor"]
    for command, printed in examples:
        args = command.replace(HOME, str(home)).split()[1:]
        if args == ["doctor"]:
            _doctor_project(home, served_emulator, monkeypatch)
        result = CliRunner().invoke(cli, args)
        expected = [
            line.replace(HOME, str(home)).replace(EMULATOR, served_emulator) for line in printed
        ]
        assert result.exit_code != 0, command
        assert result.output.splitlines() == expected, command


def test_a_changed_message_is_noticed() -> None:
    examples = error_examples(README.read_text(encoding="utf-8"))
    command, printed = examples[0]
    assert command == "crm-ferry migrate"
    assert printed[0] == f"error: no ferry.toml in {HOME}"
