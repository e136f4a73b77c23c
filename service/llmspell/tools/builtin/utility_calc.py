"""calculator: a safe arithmetic evaluator over Python's ``ast`` (never ``eval``).

Expressions are parsed once, checked against a whitelist of node types, and compiled into
a tree of closures that is cached by expression text. Denial of service is bounded: input
length, node count and nesting depth are capped, and ``**``/``*`` refuse integer results
beyond :data:`MAX_INT_BITS` before computing them (``9**9**9`` fails at once).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, ValidationError
from ..base import BaseTool, ToolOutput

__all__ = ["MAX_DEPTH", "MAX_INPUT_CHARS", "MAX_INT_BITS", "MAX_NODES", "CalculatorTool", "evaluate"]

MAX_INPUT_CHARS = 1_000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_INT_BITS = 4_096

Number = int | float
Evaluator = Callable[[Mapping[str, Number]], Any]


def _num(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"expected a number, got {value!r}")
    return value


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(f"result exceeds {MAX_INT_BITS} bits; use smaller numbers")
    return value


def _pow(base: Any, exp: Any) -> Any:
    base, exp = _num(base), _num(exp)
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if (abs(base).bit_length() - 1) * exp > MAX_INT_BITS:
            raise LimitExceeded(f"{base}**{exp} exceeds {MAX_INT_BITS} bits; use smaller numbers")
    elif isinstance(exp, int | float) and abs(exp) > 1e6 and isinstance(base, int):
        base = float(base)  # a float overflows (caught below) instead of building a huge int
    result = base**exp
    if isinstance(result, complex):
        raise ValidationError(f"({base})**({exp}) has no real value")
    return result


def _mul(a: Any, b: Any) -> Any:
    a, b = _num(a), _num(b)
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
        raise LimitExceeded(f"product exceeds {MAX_INT_BITS} bits; use smaller numbers")
    return a * b


def _arith(fn: Callable[[Number, Number], Any]) -> Callable[[Any, Any], Any]:
    return lambda a, b: _check_int(fn(_num(a), _num(b)))


_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _arith(operator.add),
    ast.Sub: _arith(operator.sub),
    ast.Mult: _mul,
    ast.Div: _arith(operator.truediv),
    ast.FloorDiv: _arith(operator.floordiv),
    ast.Mod: _arith(operator.mod),
    ast.Pow: _pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: lambda a: +_num(a),
    ast.USub: lambda a: -_num(a),
    ast.Not: operator.not_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _round(x: Any, ndigits: Any = None) -> Number:
    if ndigits is None:
        return round(_num(x))
    digits = _num(ndigits)
    if not isinstance(digits, int) or abs(digits) > 15:
        raise ValidationError("round() takes an integer number of digits between -15 and 15")
    return round(_num(x), digits)


def _log(x: Any, base: Any = None) -> float:
    return math.log(_num(x)) if base is None else math.log(_num(x), _num(base))


def _minmax(fn: Callable[..., Number]) -> Callable[..., Number]:
    def call(*args: Any) -> Number:
        if not args:
            raise ValidationError(f"{fn.__name__}() needs at least one argument")
        return fn(_num(a) for a in args)

    return call


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": lambda x: math.sqrt(_num(x)),
    "sin": lambda x: math.sin(_num(x)),
    "cos": lambda x: math.cos(_num(x)),
    "tan": lambda x: math.tan(_num(x)),
    "asin": lambda x: math.asin(_num(x)),
    "acos": lambda x: math.acos(_num(x)),
    "atan": lambda x: math.atan(_num(x)),
    "atan2": lambda y, x: math.atan2(_num(y), _num(x)),
    "exp": lambda x: math.exp(_num(x)),
    "log": _log,
    "log10": lambda x: math.log10(_num(x)),
    "log2": lambda x: math.log2(_num(x)),
    "abs": lambda x: abs(_num(x)),
    "min": _minmax(min),
    "max": _minmax(max),
    "round": _round,
    "floor": lambda x: math.floor(_num(x)),
    "ceil": lambda x: math.ceil(_num(x)),
    "pow": _pow,
    "hypot": lambda x, y: math.hypot(_num(x), _num(y)),
    "degrees": lambda x: math.degrees(_num(x)),
    "radians": lambda x: math.radians(_num(x)),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class _Compiler:
    """Turns a checked AST into nested closures; counts nodes and depth as it goes."""

    def __init__(self) -> None:
        self.nodes = 0

    def compile(self, node: ast.AST, depth: int = 0) -> Evaluator:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise LimitExceeded(f"expression has more than {MAX_NODES} elements; split it up")
        if depth > MAX_DEPTH:
            raise LimitExceeded(f"expression nests deeper than {MAX_DEPTH} levels; simplify it")
        d = depth + 1
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(f"only numbers are allowed, not {value!r}")
            return lambda _v: value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            fn2, left, right = _BINOPS[type(node.op)], self.compile(node.left, d), self.compile(node.right, d)
            return lambda v: fn2(left(v), right(v))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            fn1, operand = _UNARY[type(node.op)], self.compile(node.operand, d)
            return lambda v: fn1(operand(v))
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Call):
            return self._call(node, d)
        if isinstance(node, ast.Compare):
            return self._compare(node, d)
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(value, d) for value in node.values]
            if isinstance(node.op, ast.And):
                return lambda v: all(part(v) for part in parts)
            return lambda v: any(part(v) for part in parts)
        if isinstance(node, ast.IfExp):
            test, body, orelse = (
                self.compile(node.test, d),
                self.compile(node.body, d),
                self.compile(node.orelse, d),
            )
            return lambda v: body(v) if test(v) else orelse(v)
        raise ValidationError(f"{type(node).__name__} is not allowed in a calculator expression")

    def _name(self, name: str) -> Evaluator:
        constant = CONSTANTS.get(name)

        def lookup(v: Mapping[str, Number]) -> Number:
            if name in v:
                return v[name]
            if constant is not None:
                return constant
            raise ValidationError(
                f"unknown variable {name!r}; pass it in 'variables'", details={"field": "variables"}
            )

        return lookup

    def _call(self, node: ast.Call, depth: int) -> Evaluator:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ValidationError(f"unknown function; available: {known}")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ValidationError(f"{node.func.id}() takes positional arguments only")
        fn, name = FUNCTIONS[node.func.id], node.func.id
        args = [self.compile(arg, depth) for arg in node.args]

        def call(v: Mapping[str, Number]) -> Any:
            try:
                return fn(*(arg(v) for arg in args))
            except TypeError as exc:
                raise ValidationError(f"wrong number of arguments for {name}()") from exc

        return call

    def _compare(self, node: ast.Compare, depth: int) -> Evaluator:
        left = self.compile(node.left, depth)
        steps = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise ValidationError(f"comparison {type(op).__name__} is not allowed")
            steps.append((_COMPARE[type(op)], self.compile(right, depth)))

        def compare(v: Mapping[str, Number]) -> bool:
            current = left(v)
            for fn, right_eval in steps:
                nxt = right_eval(v)
                if not fn(current, nxt):
                    return False
                current = nxt
            return True

        return compare


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> Evaluator:
    if len(expression) > MAX_INPUT_CHARS:
        raise LimitExceeded(f"expression is longer than {MAX_INPUT_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ValidationError(f"invalid expression: {reason}", details={"field": "input"}) from None
    return _Compiler().compile(tree.body)


def evaluate(expression: str, variables: Mapping[str, Number] | None = None) -> Number | bool:
    """Evaluate ``expression`` safely.

    Args:
        expression: arithmetic with ``+ - * / // % **``, comparisons, ``and/or/not``,
            ``x if c else y``, the functions in :data:`FUNCTIONS` and constants ``pi, e, tau``.
        variables: names usable in the expression.

    Raises:
        ValidationError: a syntax error, a forbidden construct, an unknown name, a math error.
        LimitExceeded: the input, its nesting or a result is too large.
    """
    if len(expression) > MAX_INPUT_CHARS:  # checked before the cache sees the text
        raise LimitExceeded(f"expression is longer than {MAX_INPUT_CHARS} characters")
    evaluator = _compiled(expression)
    try:
        value = evaluator(variables or {})
    except ZeroDivisionError:
        raise ValidationError("division by zero") from None
    except OverflowError:
        raise LimitExceeded("result is too large to represent") from None
    except ValueError as exc:
        raise ValidationError(f"math error: {exc}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("result is not a finite number")
    return value  # type: ignore[no-any-return]


class CalculatorTool(BaseTool):
    """Evaluate arithmetic expressions safely."""

    name = "calculator"
    category = "utility"
    description = (
        "Evaluate an arithmetic expression safely (+ - * / // % **, comparisons, sqrt, sin, cos, "
        "log, abs, min, max, round, floor, ceil, pi, e) with optional variables."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {
                "type": "string",
                "enum": ["evaluate", "validate", "functions"],
                "default": "evaluate",
            },
            "input": {"type": "string", "maxLength": MAX_INPUT_CHARS, "description": "The expression."},
            "variables": {
                "type": "object",
                "additionalProperties": {"type": "number"},
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "description": "Values of the names used in the expression.",
            },
        },
        "additionalProperties": False,
    }
    timeout_s = 5.0

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params.get("operation", "evaluate")
        if operation == "functions":
            return ToolOutput(
                operation=operation, result={"functions": sorted(FUNCTIONS), "constants": sorted(CONSTANTS)}
            )
        self.require(params, "input", operation=operation)
        expression: str = params["input"]
        if operation == "validate":
            try:
                _compiled(expression)
            except (ValidationError, LimitExceeded) as exc:
                return ToolOutput(operation=operation, result={"valid": False, "error": exc.message})
            return ToolOutput(operation=operation, result={"valid": True, "error": None})
        value = evaluate(expression, params.get("variables"))
        return ToolOutput(operation=operation, result={"value": value, "expression": expression})
