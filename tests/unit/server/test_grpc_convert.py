"""JSON ⇄ protobuf conversion and the status table of the gRPC face."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import struct_pb2
from llmspell.core.errors import LLMSpellError, ValidationError
from llmspell.server.grpc import STATUS_BY_CODE, status_for
from llmspell.server.grpc._convert import (
    from_struct,
    from_value,
    jsonable,
    record_to_message,
    required,
    to_struct,
    to_value,
)
from llmspell.server.grpc._runs import run_to_message
from llmspell.server.grpc._schedules import schedule_spec, schedule_to_message
from llmspell.server.grpc.gen.llmspell.v1 import runs_pb2, schedules_pb2


class Color(enum.Enum):
    RED = "red"


def test_json_values_round_trip() -> None:
    value = {"n": 3, "f": 2.5, "s": "x", "b": False, "none": None, "xs": [1, [2, {"k": "v"}]], "neg": -7}
    assert from_struct(to_struct(value)) == value
    assert isinstance(from_struct(to_struct(value))["n"], int)
    for scalar in (None, True, 0, -1.25, "text", [], {}):
        assert from_value(to_value(scalar)) == scalar


def test_large_and_fractional_numbers_stay_floats() -> None:
    assert from_value(to_value(2.0**60)) == 2.0**60 and isinstance(from_value(to_value(2.0**60)), float)
    assert isinstance(from_value(to_value(1.5)), float)
    assert from_value(to_value(float("inf"))) == float("inf")
    assert from_value(struct_pb2.Value()) is None  # unset


def test_non_json_leaves_are_converted() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {"at": moment, "t": (1, 2), "raw": b"\x00\x01", "c": Color.RED, 4: "int key", "o": object}
    converted = jsonable(value)
    assert converted["at"] == "2026-01-02T03:04:05+00:00"
    assert (converted["t"], converted["raw"], converted["c"], converted["4"]) == (
        [1, 2],
        "AAE=",
        "red",
        "int key",
    )
    assert converted["o"] == str(object)
    assert from_struct(to_struct(value))["at"] == "2026-01-02T03:04:05+00:00"


def test_record_to_message_drops_unknown_keys_and_keeps_presence() -> None:
    run = run_to_message(
        {
            "id": "r1",
            "status": "running",
            "script": {"name": "daily", "version": 2, "engine": "lua"},
            "stdout": None,
            "result": None,
            "worker_id": "w-1",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )
    assert (run.id, run.script_name, run.script_version, run.engine) == ("r1", "daily", 2, "lua")
    assert (
        not run.HasField("stdout")
        and run.HasField("result")
        and run.created_at == "2026-01-01T00:00:00+00:00"
    )
    with pytest.raises(LLMSpellError, match="cannot encode a Run record") as raised:
        record_to_message({"id": 1}, runs_pb2.Run())
    assert raised.value.code == "INTERNAL"


def test_schedule_conversions() -> None:
    message = schedule_to_message({"id": "s", "name": "n", "script_name": "job", "enabled": True})
    assert message.script == "job"
    spec = schedule_spec(schedules_pb2.ScheduleSpec(cron="* * * * *", enabled=False, args=to_value(["a"])))
    assert (spec.cron, spec.enabled, spec.args, spec.name, spec.interval_s) == (
        "* * * * *",
        False,
        ["a"],
        None,
        None,
    )
    with pytest.raises(ValidationError, match="args must be"):
        schedule_spec(schedules_pb2.ScheduleSpec(args=to_value(3)))


def test_required() -> None:
    assert required("x", "id") == "x"
    with pytest.raises(ValidationError, match="id is required"):
        required("", "id")


def test_status_table() -> None:
    assert STATUS_BY_CODE == {
        "VALIDATION": grpc.StatusCode.INVALID_ARGUMENT,
        "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
        "CONFLICT": grpc.StatusCode.ALREADY_EXISTS,
        "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
        "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
        "SANDBOX_VIOLATION": grpc.StatusCode.PERMISSION_DENIED,
        "LIMIT_EXCEEDED": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TIMEOUT": grpc.StatusCode.DEADLINE_EXCEEDED,
        "CANCELLED": grpc.StatusCode.CANCELLED,
        "CONFIG_ERROR": grpc.StatusCode.FAILED_PRECONDITION,
        "PROVIDER_ERROR": grpc.StatusCode.UNAVAILABLE,
        "STORAGE_ERROR": grpc.StatusCode.UNAVAILABLE,
    }
    assert status_for("TOOL_ERROR") is grpc.StatusCode.INTERNAL
    assert status_for("SOMETHING_NEW") is grpc.StatusCode.INTERNAL


def test_non_finite_doubles_in_a_record_do_not_fail_the_answer() -> None:
    """A record stored with NaN/infinite numbers (before such input was refused) is still
    answered: the double fields hold them, instead of an INTERNAL for the whole List."""
    message = schedule_to_message(
        {"id": "s", "name": "n", "script": "x", "interval_s": float("inf"), "catchup_window_s": float("nan")}
    )
    assert message.interval_s == float("inf") and message.catchup_window_s != message.catchup_window_s
    run = run_to_message({"id": "r", "status": "queued", "timeout_s": float("-inf"), "result": 1})
    assert run.timeout_s == float("-inf")
