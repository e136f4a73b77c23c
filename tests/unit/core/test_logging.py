"""Structured logging: levels, the two formats, and reconfiguration."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from llmspell.core.errors import ConfigError
from llmspell.core.logging import (
    TRACE,
    HumanFormatter,
    JsonFormatter,
    configure_logging,
    level_name,
    parse_level,
    tracebacks_enabled,
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = (
        "llmspell",
        "alembic",
        "asyncio",
        "httpx",
        "httpcore",
        "aiosqlite",
        "sqlalchemy.engine",
        "urllib3",
        "grpc",
    )
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def _record(
    msg: str = "hello %s", *args: object, level: int = logging.INFO, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("llmspell.test", level, __file__, 10, msg, args or ("world",), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("trace", TRACE),
        ("DEBUG", logging.DEBUG),
        ("info", logging.INFO),
        ("warn", logging.WARNING),
        ("warning", logging.WARNING),
        (" Error ", logging.ERROR),
        ("15", 15),
        (logging.CRITICAL, logging.CRITICAL),
    ],
)
def test_parse_level_accepts_names_any_case_and_numbers(given: str | int, expected: int) -> None:
    assert parse_level(given) == expected


def test_parse_level_rejects_unknown_names_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="use trace, debug, info, warn or error"):
        parse_level("loud")


def test_level_names_are_short_and_lower_case() -> None:
    assert [level_name(n) for n in (TRACE, 10, 20, 30, 40)] == ["trace", "debug", "info", "warn", "error"]
    assert logging.getLevelName(TRACE) == "TRACE"


def test_json_formatter_writes_one_object_with_extras() -> None:
    line = JsonFormatter().format(_record(run_id="r_1", attempt=2, when=object))
    body = json.loads(line)
    assert body["level"] == "info"
    assert body["logger"] == "llmspell.test"
    assert body["msg"] == "hello world"
    assert body["run_id"] == "r_1" and body["attempt"] == 2
    assert body["when"] == str(object)
    assert body["ts"].endswith("Z") and "T" in body["ts"]
    assert "\n" not in line


def test_json_formatter_keeps_the_traceback_in_one_field() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = _record(level=logging.ERROR)
        record.exc_info = sys.exc_info()
    body = json.loads(JsonFormatter().format(record))
    assert body["exc"].startswith("Traceback") and "RuntimeError: boom" in body["exc"]


def test_human_formatter_is_one_compact_line() -> None:
    line = HumanFormatter().format(_record(run_id="r_1", note="two words", level=logging.WARNING))
    assert 'WARN  llmspell.test: hello world run_id=r_1 note="two words"' in line
    assert "\n" not in line


def test_configure_logging_routes_records_to_the_stream_in_the_chosen_format() -> None:
    stream = io.StringIO()
    assert configure_logging("debug", json=True, stream=stream) == logging.DEBUG
    log = logging.getLogger("llmspell.unit")
    log.debug("visible", extra={"k": 1})
    log.log(TRACE, "hidden below debug")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) | {"ts": None} == {
        "ts": None,
        "level": "debug",
        "logger": "llmspell.unit",
        "msg": "visible",
        "k": 1,
    }


def test_configure_logging_twice_replaces_its_own_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", stream=first)
    configure_logging("trace", stream=second)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_llmspell_handler", False)]
    assert len(ours) == 1
    logging.getLogger("llmspell.unit").log(TRACE, "deep")
    assert first.getvalue() == ""
    assert "TRACE llmspell.unit: deep" in second.getvalue()


def test_chatty_libraries_stay_at_warn_unless_trace() -> None:
    configure_logging("debug", stream=io.StringIO())
    assert logging.getLogger("httpx").level == logging.WARNING
    configure_logging("trace", stream=io.StringIO())
    assert logging.getLogger("httpx").level == TRACE


def test_tracebacks_only_from_debug_down() -> None:
    configure_logging("info", stream=io.StringIO())
    assert not tracebacks_enabled()
    configure_logging("debug", stream=io.StringIO())
    assert tracebacks_enabled()


def test_loop_failures_log_an_outage_once_and_its_end(caplog: pytest.LogCaptureFixture) -> None:
    from llmspell.core.errors import StorageError
    from llmspell.core.logging import LoopFailures

    logger = logging.getLogger("llmspell.test.loop")
    failures = LoopFailures(logger, "claiming runs")
    with caplog.at_level(logging.DEBUG, logger="llmspell.test.loop"):
        for i in range(50):
            failures.failed(StorageError("cannot reach the database" + " (again)" * (i % 2)))
        failures.failed(ConnectionResetError(104, "Connection reset by peer"))
        failures.failed(ConnectionResetError(104, "Connection closed by server"))
        failures.failed(RuntimeError("a bug"))
        failures.failed(RuntimeError("a bug"))
        failures.succeeded()
        failures.succeeded()
        failures.failed(StorageError("cannot reach the database"))
    above_debug = [
        (r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records if r.levelno > 10
    ]
    assert above_debug == [
        (
            "WARNING",
            "claiming runs failed: STORAGE_ERROR: cannot reach the database; retrying "
            "(repeats are logged at debug level)",
            False,
        ),
        (
            "WARNING",
            "claiming runs failed: ConnectionResetError: [Errno 104] Connection reset by peer; retrying "
            "(repeats are logged at debug level)",
            False,  # a network failure: no traceback
        ),
        (
            "WARNING",
            "claiming runs failed: RuntimeError: a bug; retrying (repeats are logged at debug level)",
            True,  # a bug: its traceback
        ),
        ("WARNING", "claiming runs works again", False),
        (
            "WARNING",
            "claiming runs failed: STORAGE_ERROR: cannot reach the database; retrying "
            "(repeats are logged at debug level)",
            False,
        ),
    ]
