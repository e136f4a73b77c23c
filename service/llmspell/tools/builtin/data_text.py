"""text-analyzer: counts, readability, word frequency, sentences and keywords (no external NLP)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ...core.context import ExecutionContext
from ..base import BaseTool, ToolOutput
from .data_common import read_text

__all__ = ["STOPWORDS", "TextAnalyzerTool", "count_syllables", "sentences", "tokens"]

MAX_TEXT_CHARS = 5_000_000

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9À-Ý])")
_ABBREVIATIONS = frozenset(
    ["mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "etc.", "e.g.", "i.e.", "no.", "fig."]
)
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")

_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves also may might must shall us
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def tokens(text: str) -> list[str]:
    """Lower-cased words (letters and inner apostrophes)."""
    return [word.lower() for word in _WORD.findall(text)]


def sentences(text: str) -> list[str]:
    """Split text into sentences at ``.``, ``!``, ``?`` followed by a capital or digit.

    Common abbreviations (``Dr.``, ``e.g.``...) do not end a sentence.
    """
    parts: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for piece in _SENTENCE_END.split(" ".join(paragraph.split())):
            piece = piece.strip()
            if not piece:
                continue
            if current and current[-1].rsplit(" ", 1)[-1].lower() in _ABBREVIATIONS:
                current[-1] = f"{current[-1]} {piece}"
            else:
                current.append(piece)
        parts.extend(current)
    return parts


def count_syllables(word: str) -> int:
    """English syllable estimate: vowel groups, minus a silent final ``e``, at least one."""
    word = word.lower()
    count = len(_VOWEL_GROUPS.findall(word))
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(count, 1)


def _readability(words: list[str], sentence_count: int) -> dict[str, Any]:
    if not words or not sentence_count:
        return {"flesch_reading_ease": None, "flesch_kincaid_grade": None, "level": None}
    syllables = sum(count_syllables(w) for w in words)
    wps = len(words) / sentence_count
    spw = syllables / len(words)
    ease = 206.835 - 1.015 * wps - 84.6 * spw
    grade = 0.39 * wps + 11.8 * spw - 15.59
    levels = (
        (90, "very easy"),
        (80, "easy"),
        (70, "fairly easy"),
        (60, "standard"),
        (50, "fairly difficult"),
        (30, "difficult"),
    )
    level = next((name for bound, name in levels if ease >= bound), "very difficult")
    return {
        "flesch_reading_ease": round(ease, 2),
        "flesch_kincaid_grade": round(grade, 2),
        "level": level,
        "avg_words_per_sentence": round(wps, 2),
        "avg_syllables_per_word": round(spw, 2),
    }


def _counts(text: str, words: list[str], sentence_list: list[str]) -> dict[str, Any]:
    return {
        "characters": len(text),
        "characters_no_spaces": sum(1 for c in text if not c.isspace()),
        "words": len(words),
        "unique_words": len(set(words)),
        "sentences": len(sentence_list),
        "paragraphs": len([p for p in re.split(r"\n\s*\n", text) if p.strip()]),
        "lines": len(text.splitlines()),
        "avg_word_length": round(sum(map(len, words)) / len(words), 2) if words else 0.0,
    }


class TextAnalyzerTool(BaseTool):
    """Measure and summarise text."""

    name = "text-analyzer"
    category = "data"
    description = (
        "Analyze text: counts (characters, words, sentences, paragraphs), readability (Flesch), word "
        "frequency, sentence split, keywords (frequent non-stopwords)."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {
                "type": "string",
                "enum": ["analyze", "counts", "readability", "frequency", "sentences", "keywords"],
                "default": "analyze",
            },
            "input": {"type": "string", "maxLength": MAX_TEXT_CHARS},
            "path": {"type": "string", "minLength": 1, "description": "A text file in the sandbox."},
            "encoding": {"type": "string", "default": "utf-8"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 10},
            "exclude_stopwords": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params.get("operation", "analyze")
        text = await read_text(params, ctx) or ""
        result = await self.run_blocking(self._analyze, operation, text, params)
        return ToolOutput(operation=operation, result=result)

    @staticmethod
    def _analyze(operation: str, text: str, params: dict[str, Any]) -> Any:
        words = tokens(text)
        limit = params.get("limit", 10)
        if operation == "frequency":
            pool = [w for w in words if w not in STOPWORDS] if params.get("exclude_stopwords") else words
            return [{"word": w, "count": c} for w, c in Counter(pool).most_common(limit)]
        if operation == "keywords":
            pool = [w for w in words if w not in STOPWORDS and len(w) > 2]
            total = len(pool) or 1
            return [
                {"word": w, "count": c, "score": round(c / total, 4)}
                for w, c in Counter(pool).most_common(limit)
            ]
        sentence_list = sentences(text)
        if operation == "sentences":
            return sentence_list
        if operation == "counts":
            return _counts(text, words, sentence_list)
        if operation == "readability":
            return _readability(words, len(sentence_list))
        keywords = Counter(w for w in words if w not in STOPWORDS and len(w) > 2).most_common(limit)
        return {
            "counts": _counts(text, words, sentence_list),
            "readability": _readability(words, len(sentence_list)),
            "keywords": [{"word": w, "count": c} for w, c in keywords],
        }
