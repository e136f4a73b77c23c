"""JSON columns are written exactly as ``json.dumps`` writes them, errors included."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmspell.storage.sql._json import dumps_json

VALUES: list[Any] = [
    None,
    True,
    0,
    -(10**30),
    1.5,
    1e-05,
    float("nan"),
    float("inf"),
    "",
    'é\u2028\n"',
    [],
    {},
    (1, "two"),
    {"status": "running", "attempt": 1, "nested": [{"a": None}, [1.25, False]]},
    {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_json(value) == json.dumps(value)


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), {"k": {1}}, {(1, 2): "tuple key"}], ids=repr)
def test_same_error_as_json_dumps(value: Any) -> None:
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    with pytest.raises(TypeError) as got:
        dumps_json(value)
    assert str(got.value) == str(expected.value)


def test_a_cycle_is_reported_as_json_dumps_reports_it() -> None:
    cyclic: dict[str, Any] = {"a": [1]}
    cyclic["a"].append(cyclic)
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps_json(cyclic)
    assert dumps_json({"after": "a cycle"}) == '{"after": "a cycle"}'
