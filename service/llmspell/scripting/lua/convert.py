"""Value conversion between Python and Lua for one runtime.

Python → Lua: JSON-like values become plain tables (lists marked as arrays so that an
empty list stays ``[]`` in JSON), :class:`ApiObject` instances become method tables
(one table per object, so builders can return ``self``), callables become bridged
functions and async iterators become Lua iterators. Lua → Python: tables become dicts
or lists, ``JSON.null`` becomes None, functions become :class:`ScriptFunction`s and
object tables become the :class:`ApiObject` they were made from.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from lupa import lua54

from ...core.errors import ValidationError
from ..api.surface import NULL, ApiObject

if TYPE_CHECKING:
    from .engine import LuaRun

__all__ = ["MAX_DEPTH", "LuaConverter"]

MAX_DEPTH = 64
_lua_type = lua54.lua_type


class LuaConverter:
    """Converts values for the run ``run`` (which owns the runtime and the kernel)."""

    def __init__(self, run: LuaRun) -> None:
        self._run = run
        kernel = run.kernel
        self._table_from = run.runtime.table_from
        self._classify = kernel.classify
        self._mark_array = kernel.mark_array
        self._make_object = kernel.make_object
        self._make_iterator = kernel.make_iterator
        self._bridge = kernel.bridge
        self.null = kernel.null
        self._objects: dict[int, tuple[ApiObject, Any]] = {}

    # Python → Lua ---------------------------------------------------------------------

    def to_lua(self, value: Any, *, null: bool = False, depth: int = 0) -> Any:
        """Convert ``value``; ``null=True`` maps None inside containers to ``JSON.null``."""
        if value is None or isinstance(value, bool | int | float | str | bytes):
            return value
        if depth > MAX_DEPTH:
            raise ValidationError(f"value nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            items: dict[Any, Any] = {}
            for key, item in value.items():
                if item is None:
                    if null:
                        items[key] = self.null
                    continue
                items[key] = self.to_lua(item, null=null, depth=depth + 1)
            return self._table_from(items)
        if isinstance(value, list | tuple):
            converted = [
                self.null if item is None else self.to_lua(item, null=null, depth=depth + 1) for item in value
            ]
            table = self._table_from(converted)
            return self._mark_array(table) if not converted else table
        if value is NULL:
            return self.null
        if isinstance(value, ApiObject):
            return self._object(value)
        if isinstance(value, AsyncIterator):
            return self._iterator(value)
        if callable(value):
            return self._bridge(self._run.wrap_callable(value))
        raise ValidationError(f"cannot pass a {type(value).__name__} to a script")

    def _object(self, obj: ApiObject) -> Any:
        known = self._objects.get(id(obj))
        if known is not None:
            return known[1]
        methods = {
            script_name: self._run.wrap_callable(getattr(obj, py_name))
            for script_name, py_name in obj.api_methods.items()
        }
        table = self._make_object(obj.api_type, self._table_from(methods), id(obj))
        # Keeping the object alive keeps its id unique while the table exists.
        self._objects[id(obj)] = (obj, table)
        return table

    def _iterator(self, source: AsyncIterator[Any]) -> Any:
        async def next_item() -> Any:
            try:
                return await source.__anext__()
            except StopAsyncIteration:
                return None

        return self._make_iterator(self._run.wrap_callable(next_item))

    # Lua → Python ---------------------------------------------------------------------

    def from_lua(self, value: Any, depth: int = 0) -> Any:
        """Convert a Lua value to plain Python (dict, list, str, int, float, bool, None)."""
        kind = _lua_type(value)
        if kind is None:
            if isinstance(value, bytes):
                return value.decode("utf-8", "replace")
            return value
        if kind == "table":
            if depth > MAX_DEPTH:
                raise ValidationError(f"table nested deeper than {MAX_DEPTH} levels (or cyclic)")
            tag = self._classify(value)
            if tag == "null":
                return None
            if type(tag) is int:  # an object table made by _object: hand back the Python object
                return self._objects[tag][0]
            items = list(value.items())
            if tag == "array" or (items and _is_sequence(items)):
                items.sort(key=lambda kv: kv[0])
                return [self.from_lua(item, depth + 1) for _, item in items]
            return {_key(key): self.from_lua(item, depth + 1) for key, item in items}
        if kind == "function":
            return self._run.script_function(value)
        raise ValidationError(f"cannot pass a Lua {kind} out of a script")

    def detach(self, value: Any) -> Any:
        """``value`` with API objects replaced by ``"<Type>"`` (a run's result must be plain JSON)."""
        if not self._objects:
            return value
        if isinstance(value, ApiObject):
            return f"<{value.api_type}>"
        if isinstance(value, dict):
            return {key: self.detach(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.detach(item) for item in value]
        return value


def _is_sequence(items: list[tuple[Any, Any]]) -> bool:
    n = len(items)
    return all(not (type(key) is not int or key < 1 or key > n) for key, _ in items)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def is_coroutine(value: Any) -> bool:
    """True for a coroutine object returned by an ``async def`` call."""
    return inspect.iscoroutine(value)


CallableAny = Callable[..., Any]
