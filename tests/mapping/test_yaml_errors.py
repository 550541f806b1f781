"""A map that is not valid YAML says where, why, and what to do (exit 4, the map's code)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_ferry.errors import MapError
from crm_ferry.mapping.spec import MapDocument


def test_a_yaml_syntax_error_names_line_and_column_and_says_what_to_do() -> None:
    with pytest.raises(MapError) as caught:
        MapDocument.loads("version: 1\ntargets:\n  contact: [unclosed\n")
    error = caught.value
    assert error.exit_code == 4
    assert str(error).startswith("mapping.yaml:4:1: not valid YAML: expected ',' or ']'")
    assert "crm-ferry map check" in (error.hint or "")


def test_a_map_that_is_not_a_mapping_says_how_to_get_one_back() -> None:
    with pytest.raises(MapError) as caught:
        MapDocument.loads("- just\n- a list\n")
    assert "map propose" in (caught.value.hint or "")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="[]{}:'\"-#\n ab1", max_size=40))
def test_any_broken_text_is_a_map_error_with_a_hint_or_loads(text: str) -> None:
    error: MapError | None = None
    try:
        MapDocument.loads(text)
    except MapError as raised:
        error = raised
    assert error is None or error.hint, str(error)
