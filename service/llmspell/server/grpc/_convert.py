"""JSON values and records ⇄ protobuf messages.

Free-form JSON travels as ``google.protobuf.Struct`` / ``Value``. Protobuf has one number
type (a double), so numbers decode as ``int`` when they are integral and within ±2**53,
else as ``float``: a script or tool that asked for ``3`` gets ``3``, not ``3.0``.
Records (the control plane's dicts in the REST JSON shapes) become messages through
``json_format.ParseDict``, which ignores keys the message does not declare.
"""

from __future__ import annotations

import base64
import enum
import functools
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ...core.errors import LLMSpellError, ValidationError

__all__ = [
    "from_struct",
    "from_value",
    "jsonable",
    "record_to_message",
    "required",
    "to_struct",
    "to_value",
]

M = TypeVar("M", bound=Message)

_MAX_EXACT_INT = 2**53


def jsonable(obj: Any) -> Any:
    """``obj`` with every leaf a JSON value: datetimes become ISO 8601 strings, tuples and
    sets lists, bytes base64, enums their value; anything else unknown its ``str``."""
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    if isinstance(obj, Mapping):
        return {str(key): jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(value) for value in obj]
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value)
    return str(obj)


def to_struct(obj: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """A ``Struct`` holding the JSON object ``obj`` (empty for None)."""
    struct = struct_pb2.Struct()
    if obj:
        fill_struct(struct, obj)
    return struct


def fill_struct(struct: struct_pb2.Struct, obj: Mapping[str, Any]) -> None:
    """Merge the JSON object ``obj`` into ``struct`` (a message field, filled in place)."""
    try:
        struct.update(obj)
    except (ValueError, TypeError, AttributeError):
        # Non-JSON leaves (datetimes, tuples of objects...) are rare: convert only then.
        struct.Clear()
        struct.update(jsonable(obj))


def to_value(obj: Any) -> struct_pb2.Value:
    """A ``Value`` holding the JSON value ``obj``."""
    holder = struct_pb2.Struct()
    fill_struct(holder, {"v": obj})
    return holder.fields["v"]


def from_value(value: struct_pb2.Value) -> Any:
    """The Python JSON value of ``value`` (None for null or an unset value)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and -_MAX_EXACT_INT <= number <= _MAX_EXACT_INT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    return None


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """The Python dict of ``struct``."""
    return {key: from_value(item) for key, item in struct.fields.items()}


# How json_format.ParseDict spells the non-finite doubles it accepts for a double field.
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


@functools.cache
def _double_fields(descriptor: Descriptor) -> frozenset[str]:
    kinds = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
    return frozenset(f.name for f in descriptor.fields if f.type in kinds)


def record_to_message(record: Mapping[str, Any], message: M) -> M:
    """Fill ``message`` from a control-plane record (keys it does not declare are dropped).

    A NaN or infinite number in a double field (a record stored before such input was
    refused) is kept as that double instead of failing the whole answer.

    Raises:
        LLMSpellError: the record does not fit the message (a server bug: INTERNAL).
    """
    data = jsonable(record)
    for name in _double_fields(message.DESCRIPTOR):
        value = data.get(name)
        if isinstance(value, float) and not math.isfinite(value):
            data[name] = "NaN" if math.isnan(value) else _NON_FINITE[value]
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        name = message.DESCRIPTOR.name
        raise LLMSpellError(f"cannot encode a {name} record for gRPC: {exc}") from exc
    return message


def required(value: str, field: str) -> str:
    """``value`` unless it is empty; raises ``ValidationError`` naming ``field``."""
    if not value:
        raise ValidationError(f"{field} is required", details={"field": field})
    return value
