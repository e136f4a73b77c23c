"""xml-processor (defusedxml) and yaml-processor (safe loading only).

XML entity declarations and external references are refused, which stops "billion laughs"
and XXE. YAML goes through the safe loader (no object tags); the loaded data is measured as
JSON would expand it, so alias bombs are refused before anything walks them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, ValidationError
from ..base import BaseTool, ToolOutput
from .data_common import MAX_TEXT_CHARS, bounded_size, parse_json_text, read_text

__all__ = ["XmlProcessorTool", "YamlProcessorTool", "element_to_dict", "parse_xml", "to_json_compatible"]

MAX_RESULTS = 10_000


def parse_xml(text: str) -> Any:
    """Parse XML safely; returns the root ``Element``.

    Raises:
        ValidationError: malformed XML, or entity declarations / external references (refused).
    """
    import xml.etree.ElementTree as ET

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if len(text) > MAX_TEXT_CHARS:
        raise LimitExceeded(f"XML is longer than {MAX_TEXT_CHARS} characters")
    try:
        return fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ValidationError(
            f"XML refused: {exc}; entity declarations and external references are not allowed "
            "(they enable entity-expansion and XXE attacks)",
            details={"field": "input", "reason": type(exc).__name__},
        ) from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise ValidationError(
            f"invalid XML at line {line} column {column}: {exc}",
            details={"field": "input", "line": line, "column": column},
        ) from exc


def element_to_dict(element: Any) -> Any:
    """Convert an element to plain data: ``@attr`` attributes, ``#text`` text, repeated tags as lists."""
    node: dict[str, Any] = {f"@{key}": value for key, value in element.attrib.items()}
    for child in element:
        value = element_to_dict(child)[child.tag]
        if child.tag in node:
            existing = node[child.tag]
            if isinstance(existing, list):
                existing.append(value)
            else:
                node[child.tag] = [existing, value]
        else:
            node[child.tag] = value
    text = (element.text or "").strip()
    if not node:
        return {element.tag: text or None}
    if text:
        node["#text"] = text
    return {element.tag: node}


def _plain(element: Any) -> Any:
    try:
        return element_to_dict(element)[element.tag]
    except RecursionError as exc:
        raise LimitExceeded("XML nests too deeply to convert") from exc


def _relative_query(query: str, root_tag: str) -> str:
    # ElementTree paths are relative to the root element; accept XPath-style absolute forms.
    if query.startswith("//"):
        return "." + query
    if query.startswith("/"):
        head, _, rest = query[1:].partition("/")
        if head != root_tag:
            raise ValidationError(
                f"query {query!r} does not start at the root <{root_tag}>", details={"field": "query"}
            )
        return rest or "."
    return query


class XmlProcessorTool(BaseTool):
    """Parse and query XML safely."""

    name = "xml-processor"
    category = "data"
    description = (
        "Parse XML (safely: no entity expansion, no external references) to JSON-friendly data, find "
        "elements with XPath-lite paths (//item, item[@id='2'], a/b), validate well-formedness."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["parse", "find", "to_json", "validate"]},
            "input": {"type": "string", "description": "XML text."},
            "path": {"type": "string", "minLength": 1, "description": "An XML file in the sandbox."},
            "encoding": {"type": "string", "default": "utf-8"},
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "description": "ElementTree path.",
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "default": 1000},
            "indent": {"type": "integer", "minimum": 0, "maximum": 16},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        text = await read_text(params, ctx) or ""
        if operation == "validate":
            try:
                await self.run_blocking(parse_xml, text)
            except ValidationError as exc:
                return ToolOutput(operation=operation, result={"valid": False, "error": exc.message})
            return ToolOutput(operation=operation, result={"valid": True, "error": None})
        root = await self.run_blocking(parse_xml, text)
        if operation == "find":
            self.require(params, "query", operation=operation)
            query = _relative_query(params["query"], root.tag)
            try:
                found = root.findall(query)
            except (SyntaxError, KeyError) as exc:
                raise ValidationError(
                    f"unsupported query {params['query']!r}: {exc}", details={"field": "query"}
                ) from exc
            limit = params.get("limit", 1000)
            items = [
                {
                    "tag": el.tag,
                    "attributes": dict(el.attrib),
                    "text": (el.text or "").strip() or None,
                    "value": _plain(el),
                }
                for el in found[:limit]
            ]
            return ToolOutput(operation=operation, result={"matches": items, "count": len(found)})
        data = {root.tag: _plain(root)}
        if operation == "to_json":
            return ToolOutput(
                operation=operation, result=json.dumps(data, indent=params.get("indent"), ensure_ascii=False)
            )
        return ToolOutput(operation=operation, result=data, metadata={"root": root.tag})


def to_json_compatible(value: Any) -> Any:
    """YAML values as JSON values: dates → ISO text, bytes → base64, sets → lists, keys → text."""
    if isinstance(value, dict):
        return {
            k if isinstance(k, str) else json.dumps(to_json_compatible(k)): to_json_compatible(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_json_compatible(v) for v in items]
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return None
    return value


def _load_yaml(text: str, all_documents: bool) -> Any:
    import yaml

    if len(text) > MAX_TEXT_CHARS:
        raise LimitExceeded(f"YAML is longer than {MAX_TEXT_CHARS} characters")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = list(yaml.load_all(text, Loader=loader)) if all_documents else yaml.load(text, Loader=loader)
    except yaml.constructor.ConstructorError as exc:
        raise ValidationError(
            f"YAML refused: {exc.problem}; only plain data is accepted (no object tags)",
            details={"field": "input", "reason": "tag"},
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise ValidationError(
            f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}", details={"field": "input"}
        ) from exc
    except RecursionError as exc:
        raise LimitExceeded("YAML nests too deeply") from exc
    bounded_size(data)
    return to_json_compatible(data)


class YamlProcessorTool(BaseTool):
    """Parse and produce YAML safely."""

    name = "yaml-processor"
    category = "data"
    description = (
        "Parse YAML safely (no object tags, alias bombs refused) to JSON data or JSON text, convert JSON to "
        "YAML, validate YAML."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["parse", "to_json", "from_json", "validate"]},
            "input": {"description": "YAML text (from_json: a JSON value or JSON text)."},
            "path": {"type": "string", "minLength": 1, "description": "A YAML file in the sandbox."},
            "encoding": {"type": "string", "default": "utf-8"},
            "all_documents": {
                "type": "boolean",
                "default": False,
                "description": "Load every '---' document.",
            },
            "indent": {"type": "integer", "minimum": 0, "maximum": 16},
            "sort_keys": {"type": "boolean", "default": False},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        import yaml

        operation = params["operation"]
        if operation == "from_json":
            value = params.get("input")
            data = parse_json_text(value) if isinstance(value, str) else value
            if data is None and "path" in params:
                data = parse_json_text(await read_text(params, ctx) or "", "path")
            bounded_size(data)
            text = yaml.safe_dump(
                data,
                sort_keys=params.get("sort_keys", False),
                allow_unicode=True,
                indent=params.get("indent"),
            )
            return ToolOutput(operation=operation, result=text)
        source = await read_text(params, ctx) or ""
        if operation == "validate":
            try:
                await self.run_blocking(_load_yaml, source, True)
            except (ValidationError, LimitExceeded) as exc:
                return ToolOutput(operation=operation, result={"valid": False, "error": exc.message})
            return ToolOutput(operation=operation, result={"valid": True, "error": None})
        data = await self.run_blocking(_load_yaml, source, params.get("all_documents", False))
        if operation == "to_json":
            return ToolOutput(
                operation=operation, result=json.dumps(data, indent=params.get("indent"), ensure_ascii=False)
            )
        return ToolOutput(operation=operation, result=data)
