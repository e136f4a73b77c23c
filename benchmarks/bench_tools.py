"""Tool registry benchmark: invoke throughput and registry start-up.

Run: ``.venv/bin/python benchmarks/bench_tools.py [--calls N]``. Prints a table.

- invoke/s: ``registry.invoke("calculator", ...)`` from Python: lookup + schema validation +
  invoke + envelope + metrics, with a different variable value on every call (target ≥ 50,000/s).
- start-up: in a fresh interpreter, ``import llmspell.tools`` + ``default_registry()`` with every
  built-in registered (target ≤ 20 ms), measured after the interpreter and ``llmspell.core`` (which
  every llmspell process imports first) are loaded; also reported from a bare interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from llmspell.core.context import ExecutionContext
from llmspell.tools import default_registry

_STARTUP = """
import time{preload}
t0 = time.perf_counter()
from llmspell.tools import default_registry
from llmspell.tools.builtin import BUILTIN_TOOLS
r = default_registry()
assert all(r.exists(name) for name in BUILTIN_TOOLS)
t1 = time.perf_counter()
{extra}
print((t1 - t0) * 1000, len(BUILTIN_TOOLS), (time.perf_counter() - t1) * 1000)
"""
_ENTRY_POINTS = "r.names()"  # reads the llmspell.tools entry points (importlib.metadata)
_LOAD_ALL = "r.list()"  # imports every tool module and instantiates every tool
_PRELOAD = ", asyncio, llmspell.core"


def _subprocess_ms(code: str, runs: int) -> tuple[float, int, float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        ms, count, extra = out.stdout.split()
        samples.append((float(ms), int(count), float(extra)))
    return (
        statistics.median(s[0] for s in samples),
        samples[0][1],
        statistics.median(s[2] for s in samples),
    )


async def _rate(calls: int, params_for: object, name: str = "calculator") -> float:
    registry = default_registry()
    ctx = ExecutionContext()
    await registry.invoke(name, params_for(0), ctx)  # type: ignore[operator]
    started = time.perf_counter()
    for i in range(calls):
        await registry.invoke(name, params_for(i), ctx)  # type: ignore[operator]
    return calls / (time.perf_counter() - started)


def _micro(calls: int) -> dict[str, float]:
    registry = default_registry()
    tool = registry.get("calculator")
    params = {"input": "x * 2 + sqrt(y)", "variables": {"x": 3, "y": 4}}
    started = time.perf_counter()
    for _ in range(calls):
        registry.get("calculator")
    lookup = calls / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(calls):
        registry.validate(tool.name, params)
    validate = calls / (time.perf_counter() - started)
    return {"lookup": lookup, "validate": validate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per start-up figure")
    args = parser.parse_args()

    rows: list[tuple[str, str, str]] = []
    invoke = asyncio.run(
        _rate(args.calls, lambda i: {"input": "x * 2 + sqrt(y)", "variables": {"x": i, "y": 4}})
    )
    rows.append(("calculator invoke via registry", f"{invoke:,.0f} /s", "≥ 50,000 /s"))
    text = asyncio.run(
        _rate(
            args.calls // 5,
            lambda i: {"operation": "snake_case", "input": f"someName{i}"},
            "text-manipulator",
        )
    )
    rows.append(("text-manipulator invoke via registry", f"{text:,.0f} /s", ""))
    micro = _micro(args.calls)
    rows.append(("registry lookup (get)", f"{micro['lookup']:,.0f} /s", ""))
    rows.append(("schema validation (compiled)", f"{micro['validate']:,.0f} /s", ""))

    startup, count, entry_points = _subprocess_ms(
        _STARTUP.format(preload=_PRELOAD, extra=_ENTRY_POINTS), args.runs
    )
    rows.append((f"registry start-up, {count} built-ins registered", f"{startup:.1f} ms", "≤ 20 ms"))
    rows.append(("  + third-party entry-point discovery (lazy)", f"{entry_points:.1f} ms", ""))
    _, _, load_all = _subprocess_ms(_STARTUP.format(preload=_PRELOAD, extra=_LOAD_ALL), args.runs)
    rows.append(("  + importing and instantiating every tool", f"{load_all:.1f} ms", ""))
    bare, _, _ = _subprocess_ms(_STARTUP.format(preload="", extra=""), args.runs)
    rows.append(("registry start-up incl. llmspell.core, bare interpreter", f"{bare:.1f} ms", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>14}  target")
    print("-" * (width + 30))
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")


if __name__ == "__main__":
    main()
