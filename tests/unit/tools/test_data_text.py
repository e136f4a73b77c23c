"""text-analyzer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ValidationError
from llmspell.tools import default_registry
from llmspell.tools.builtin.data_text import count_syllables

TEXT = (
    "The quick brown fox jumps over the lazy dog. The dog sleeps!\n\n"
    "Does the fox care? No, the fox runs to Dr. Smith's farm."
)


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),)))


async def run(ctx: ExecutionContext, **params: Any) -> Any:
    env = await default_registry().invoke("text-analyzer", params, ctx)
    assert env["success"] is True
    return env["result"]


def test_syllables() -> None:
    assert [count_syllables(w) for w in ("the", "table", "readability", "cake", "free")] == [1, 2, 5, 1, 1]


async def test_counts_and_sentences(ctx: ExecutionContext) -> None:
    counts = await run(ctx, operation="counts", input=TEXT)
    assert counts["words"] == 24 and counts["sentences"] == 4 and counts["paragraphs"] == 2
    assert counts["characters"] == len(TEXT)
    sentences = await run(ctx, operation="sentences", input=TEXT)
    assert sentences[1] == "The dog sleeps!" and sentences[-1] == "No, the fox runs to Dr. Smith's farm."


async def test_frequency_keywords_readability(ctx: ExecutionContext, tmp_path: Path) -> None:
    top = await run(ctx, operation="frequency", input=TEXT, limit=2)
    assert top == [{"word": "the", "count": 5}, {"word": "fox", "count": 3}]
    no_stop = await run(ctx, operation="frequency", input=TEXT, limit=1, exclude_stopwords=True)
    assert no_stop == [{"word": "fox", "count": 3}]
    keywords = await run(ctx, operation="keywords", input=TEXT, limit=2)
    assert [k["word"] for k in keywords] == ["fox", "dog"]
    easy = await run(ctx, operation="readability", input="The cat sat. The dog ran. We had fun.")
    hard = await run(
        ctx,
        operation="readability",
        input="Institutional accountability necessitates comprehensive organizational transparency considerations.",
    )
    assert easy["flesch_reading_ease"] > 90 > 0 > hard["flesch_reading_ease"]
    assert easy["level"] == "very easy" and hard["level"] == "very difficult"
    (tmp_path / "t.txt").write_text(TEXT)
    full = await run(ctx, path="t.txt")
    assert full["counts"]["words"] == 24 and full["keywords"][0]["word"] == "fox"


async def test_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(ValidationError, match="pass 'input'"):
        await registry.invoke("text-analyzer", {}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("text-analyzer", {"path": "/etc/passwd"}, ctx)
    with pytest.raises(ValidationError, match="operation"):
        await registry.invoke("text-analyzer", {"input": "x", "operation": "summarize"}, ctx)
