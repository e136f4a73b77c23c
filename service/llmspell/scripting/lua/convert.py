"""Value conversion between Python and Lua for one runtime.

Python → Lua: JSON-like values become plain tables (lists marked as arrays so that an
empty list stays ``[]`` in JSON), :class:`ApiObject` instances become method tables
(one table per object, so builders can return ``self``), callables become bridged
functions and async iterators become Lua iterators. Lua → Python: tables become dicts
or lists, ``JSON.null`` becomes None, functions become :class:`ScriptFunction`s and
object tables become the :class:`ApiObject` they were made from. A hook's
:class:`~llmspell.hooks.HookContext` becomes the table ``{point, component={type, name},
data, correlation_id, run_id, attempt}`` whose ``data`` is converted on first read.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from lupa import lua54

from ...core.errors import ValidationError
from ..api.surface import NULL, ApiObject, ScriptFunction

if TYPE_CHECKING:
    from .engine import LuaRun

__all__ = ["MAX_DEPTH", "LuaConverter"]

MAX_DEPTH = 64
_lua_type = lua54.lua_type
# Values that cross as they are (exact types: subclasses take the general path).
_PLAIN = frozenset({type(None), bool, int, float, str})
# llmspell.hooks is imported only by runs that use hooks; scripts that do not never load it.
_HOOKS_ABC = __name__.rsplit(".", 3)[0] + ".hooks.abc"


class LuaConverter:
    """Converts values for the run ``run`` (which owns the runtime and the kernel)."""

    def __init__(self, run: LuaRun, kernel_functions: tuple[Any, ...]) -> None:
        """``kernel_functions``: the kernel's classify, explode, hook_context, mark_array,
        make_object, make_iterator and bridge (looked up once per runtime)."""
        self._run = run
        self._table_from = run.runtime.table_from
        (
            self._classify,
            self._explode,
            self._hook_context,
            self._mark_array,
            self._make_object,
            self._make_iterator,
            self._bridge,
        ) = kernel_functions
        self.null = run.null
        self._objects: dict[int, tuple[ApiObject, Any]] = {}

    # Python → Lua ---------------------------------------------------------------------

    def to_lua(self, value: Any, *, null: bool = False, depth: int = 0) -> Any:
        """Convert ``value``; ``null=True`` maps None inside containers to ``JSON.null``."""
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is dict:
            return self._table(value, null, depth)
        if kind is list:
            return self._array(value, null, depth)
        return self._other(value, null, depth)

    def _table(self, value: dict[Any, Any], null: bool, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValidationError(f"value nested deeper than {MAX_DEPTH} levels")
        items: dict[Any, Any] = {}
        for key, item in value.items():
            if type(item) in _PLAIN:
                if item is None:
                    if null:
                        items[key] = self.null
                    continue
                items[key] = item
            else:
                items[key] = self.to_lua(item, null=null, depth=depth + 1)
        return self._table_from(items)

    def _array(self, value: list[Any] | tuple[Any, ...], null: bool, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValidationError(f"value nested deeper than {MAX_DEPTH} levels")
        if not value:
            return self._mark_array(self._table_from([]))
        converted = [
            (self.null if item is None else item)
            if type(item) in _PLAIN
            else self.to_lua(item, null=null, depth=depth + 1)
            for item in value
        ]
        return self._table_from(converted)

    def _other(self, value: Any, null: bool, depth: int) -> Any:
        hooks_abc = sys.modules.get(_HOOKS_ABC)  # no HookContext exists before it is imported
        if hooks_abc is not None and type(value) is hooks_abc.HookContext:
            # Built in one Lua call; data that is not a plain value is converted only when
            # the hook reads it (prelude: load_data).
            kind, name = value.component
            data = value.data
            if type(data) in _PLAIN:
                plain, source = data, None
            else:
                plain, source = None, data
            return self._hook_context(
                value.point, kind, name, plain, source, value.correlation_id, value.run_id, value.attempt
            )
        if isinstance(value, bool | int | float | str | bytes):
            return value
        if isinstance(value, dict):
            return self._table(value, null, depth)
        if isinstance(value, list | tuple):
            return self._array(value, null, depth)
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
        names = obj.api_methods
        wrap = self._run.wrap_callable

        def method(name: str) -> Any:
            py_name = names.get(name)
            return None if py_name is None else wrap(getattr(obj, py_name))

        table = self._make_object(obj.api_type, method, id(obj))
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
        if type(value) in _PLAIN:
            return value
        kind = _lua_type(value)
        if kind is None:
            if isinstance(value, bytes):
                return value.decode("utf-8", "replace")
            return value
        if kind == "table":
            if depth > MAX_DEPTH:
                raise ValidationError(f"table nested deeper than {MAX_DEPTH} levels (or cyclic)")
            return self._from_table(value, depth + 1)
        if kind == "function":
            return self._run.script_function(value)
        raise ValidationError(f"cannot pass a Lua {kind} out of a script")

    def _from_table(self, table: Any, depth: int) -> Any:
        parts = self._explode(table)  # one Lua call: the kind, then the values (or pairs)
        if type(parts) is not tuple:  # a single result comes back bare
            parts = (parts,)
        tag = parts[0]
        convert = self.from_lua
        if tag == "seq":
            return [item if type(item) in _PLAIN else convert(item, depth) for item in parts[1:]]
        if tag == "map":
            pairs = iter(parts)
            next(pairs)
            out = {}
            for key, item in zip(pairs, pairs, strict=False):
                out[key if type(key) is str else _key(key)] = (
                    item if type(item) in _PLAIN else convert(item, depth)
                )
            return out
        if tag == "array":
            flat = parts[1:]
            items = sorted(zip(flat[::2], flat[1::2], strict=True), key=lambda kv: kv[0])
            return [convert(item, depth) for _, item in items]
        if tag == "null":
            return None
        if type(tag) is int:  # an object table made by _object: hand back the Python object
            return self._objects[tag][0]
        # "big": too many entries to pass in one call
        big = list(table.items())
        if self._classify(table) == "array" or (big and _is_sequence(big)):
            big.sort(key=lambda kv: kv[0])
            return [convert(item, depth) for _, item in big]
        return {_key(key): convert(item, depth) for key, item in big}

    def detach(self, value: Any) -> Any:
        """``value`` as plain JSON (a run's result): API objects become ``"<Type>"``,
        functions ``"<function>"``, NaN and infinities ``None`` (as ``JSON.stringify`` does)."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value
        if kind is float:
            return value if math.isfinite(value) else None
        if isinstance(value, ApiObject):
            return f"<{value.api_type}>"
        if isinstance(value, ScriptFunction):
            return "<function>"
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
