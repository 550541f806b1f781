"""The review application's tests: a proposed project per test, copied from one template."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers.review import ReviewProject, build_proposed, open_copy


@pytest.fixture(scope="session")
def proposed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_proposed(tmp_path_factory.mktemp("review-template"))


@pytest.fixture
def make_review(proposed_template: Path, tmp_path: Path) -> Iterator[Callable[[], ReviewProject]]:
    opened: list[ReviewProject] = []

    def make() -> ReviewProject:
        project = open_copy(proposed_template, tmp_path / f"r{len(opened)}")
        opened.append(project)
        return project

    yield make
    for project in opened:
        project.close()


@pytest.fixture
def review(make_review: Callable[[], ReviewProject]) -> ReviewProject:
    return make_review()
