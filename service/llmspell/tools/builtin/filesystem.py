"""Filesystem tools: file-operations and file-search.

Every path goes through :func:`llmspell.tools.sandbox.resolve_path`; blocking file I/O runs
in a worker thread so the event loop never stalls on a slow disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import NotFound, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.sandbox import check_size, resolve_path

__all__ = [
    "FileOperationsTool",
    "FileSearchTool",
    "atomic_write",
    "decode_text",
    "encode_text",
    "entry_info",
    "glob_regex",
    "walk",
]

_OPERATIONS = ("read", "write", "append", "delete", "copy", "move", "list", "exists", "mkdir", "stat")
_MAX_LIST_ENTRIES = 10_000
_MAX_VISITED = 200_000  # file-search stops walking (truncated) past this many entries


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory and a rename.

    Readers see either the old or the new content, never a torn write; the temp file is
    removed when anything fails.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def decode_text(data: bytes, encoding: str) -> str:
    """Decode file bytes; ``encoding="base64"`` returns the bytes base64-encoded."""
    if encoding == "base64":
        return base64.b64encode(data).decode("ascii")
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise ValidationError(f"unknown encoding {encoding!r}; use e.g. 'utf-8' or 'base64'") from exc
    except UnicodeDecodeError as exc:
        raise ToolError(
            f"file is not valid {encoding} (byte {exc.start}); pass encoding='base64' or the right codec"
        ) from exc


def encode_text(text: str, encoding: str) -> bytes:
    """Encode text for writing; ``encoding="base64"`` decodes base64 input to raw bytes."""
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError("content is not valid base64") from exc
    try:
        return text.encode(encoding)
    except LookupError as exc:
        raise ValidationError(f"unknown encoding {encoding!r}; use e.g. 'utf-8' or 'base64'") from exc
    except UnicodeEncodeError as exc:
        raise ValidationError(f"content cannot be encoded as {encoding}: {exc.reason}") from exc


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def entry_info(path: Path, *, relative_to: Path | None = None) -> dict[str, Any]:
    """``{name, path, type, size, modified}`` of one entry, without following symlinks."""
    st = path.lstat()
    shown = path.relative_to(relative_to).as_posix() if relative_to is not None else str(path)
    return {
        "name": path.name,
        "path": shown,
        "type": _kind(st.st_mode),
        "size": st.st_size,
        "modified": _iso(st.st_mtime),
    }


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob over ``/``-separated relative paths: ``*``, ``?``, ``[..]`` and ``**``."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    # A pattern without "/" matches the file name at any depth, like `find -name`.
    prefix = "" if "/" in pattern else "(?:.*/)?"
    return re.compile(f"^{prefix}{''.join(out)}$", re.DOTALL)


def walk(root: Path, *, recursive: bool, include_hidden: bool) -> Iterator[tuple[Path, os.stat_result]]:
    """Yield ``(path, lstat)`` under ``root`` without following symlinks."""
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                children = sorted(entries, key=lambda e: e.name)
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            continue
        subdirs: list[Path] = []
        for entry in children:
            if not include_hidden and entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield path, st
            if recursive and stat.S_ISDIR(st.st_mode):
                subdirs.append(path)
        stack.extend(reversed(subdirs))


def _own_symlink(path: str, policy: SandboxPolicy) -> Path | None:
    """The link itself when ``path`` names a symlink whose directory is inside the sandbox.

    ``resolve_path`` follows links, which is right for reading; deleting or moving a link
    must act on the link, not on the file it points to.
    """
    if not policy.file_roots:
        return None
    base = os.path.realpath(policy.file_roots[0])
    lexical = Path(os.path.abspath(path if os.path.isabs(path) else os.path.join(base, path)))
    if not lexical.is_symlink():
        return None
    return resolve_path(str(lexical.parent), policy, must_exist=True) / lexical.name


def _tree_size(path: Path) -> int:
    total = 0
    for _, st in walk(path, recursive=True, include_hidden=True):
        if stat.S_ISREG(st.st_mode):
            total += st.st_size
    return total


class FileOperationsTool(BaseTool):
    """Read, write, append, delete, copy, move, list, stat files inside the sandbox roots."""

    name = "file-operations"
    category = "filesystem"
    description = (
        "File operations inside the sandbox: read, write (atomic), append, delete, copy, move, "
        "list, exists, mkdir, stat."
    )
    security_level = "restricted"
    timeout_s = 30.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": list(_OPERATIONS), "description": "What to do."},
            "path": {"type": "string", "minLength": 1, "description": "File or directory path."},
            "content": {"type": "string", "description": "Text to write or append."},
            "destination": {"type": "string", "minLength": 1, "description": "Target of copy/move."},
            "encoding": {
                "type": "string",
                "default": "utf-8",
                "description": "Text codec, or 'base64' for binary content.",
            },
            "recursive": {"type": "boolean", "default": False, "description": "For list, delete, copy."},
            "overwrite": {"type": "boolean", "default": True, "description": "For write, copy, move."},
            "create_parents": {"type": "boolean", "default": False, "description": "For write/append."},
            "max_bytes": {"type": "integer", "minimum": 1, "description": "Read at most this many bytes."},
            "max_entries": {"type": "integer", "minimum": 1, "maximum": _MAX_LIST_ENTRIES, "default": 1000},
        },
        "required": ["operation", "path"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"operation": {"enum": ["write", "append"]}}},
                "then": {"required": ["content"]},
            },
            {
                "if": {"properties": {"operation": {"enum": ["copy", "move"]}}},
                "then": {"required": ["destination"]},
            },
        ],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation: str = params["operation"]
        handler = getattr(self, f"_{operation}")
        result, message = await asyncio.to_thread(handler, params, ctx.policy)
        return ToolOutput(operation=operation, result=result, message=message)

    def _read(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        path = resolve_path(params["path"], policy, must_exist=True)
        if not path.is_file():
            raise ValidationError(f"{params['path']!r} is not a regular file; use operation 'list'")
        size = path.stat().st_size
        limit = params.get("max_bytes")
        if limit is None:
            check_size(size, policy)
        with path.open("rb") as handle:
            data = handle.read(limit if limit is not None else size + 1)
        check_size(len(data), policy)
        text = decode_text(data, params.get("encoding", "utf-8"))
        result = {"content": text, "size": size, "truncated": len(data) < size}
        return result, f"read {len(data)} bytes from {params['path']}"

    def _write(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        data = encode_text(params["content"], params.get("encoding", "utf-8"))
        check_size(len(data), policy)
        path = self._writable(params, policy)
        if path.exists() and not params.get("overwrite", True):
            raise ValidationError(f"{params['path']!r} exists; pass overwrite=true to replace it")
        atomic_write(path, data)
        return {"path": str(path), "bytes_written": len(data)}, f"wrote {len(data)} bytes"

    def _append(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        data = encode_text(params["content"], params.get("encoding", "utf-8"))
        path = self._writable(params, policy)
        existing = path.stat().st_size if path.exists() else 0
        check_size(existing + len(data), policy)
        with path.open("ab") as handle:
            handle.write(data)
        return {"path": str(path), "bytes_written": len(data), "size": existing + len(data)}, (
            f"appended {len(data)} bytes"
        )

    def _writable(self, params: dict[str, Any], policy: SandboxPolicy) -> Path:
        path = resolve_path(params["path"], policy, for_write=True)
        if path.is_dir():
            raise ValidationError(f"{params['path']!r} is a directory; give a file path")
        if not path.parent.is_dir():
            if not params.get("create_parents", False):
                raise NotFound(
                    f"directory {str(path.parent)!r} does not exist; pass create_parents=true",
                    details={"kind": "directory", "name": str(path.parent)},
                )
            path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _delete(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        link = _own_symlink(params["path"], policy)
        if link is not None:
            link.unlink()
            return {"path": str(link), "deleted": True}, f"deleted link {params['path']}"
        path = resolve_path(params["path"], policy, for_write=True, must_exist=True)
        if path.is_dir():
            if params.get("recursive", False):
                shutil.rmtree(path)
            else:
                try:
                    path.rmdir()
                except OSError as exc:
                    raise ToolError(
                        f"directory {params['path']!r} is not empty; pass recursive=true"
                    ) from exc
        else:
            path.unlink()
        return {"path": str(path), "deleted": True}, f"deleted {params['path']}"

    def _copy(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        src = resolve_path(params["path"], policy, must_exist=True)
        dst = self._destination(params, policy)
        if src.is_dir():
            if not params.get("recursive", False):
                raise ValidationError(f"{params['path']!r} is a directory; pass recursive=true to copy it")
            check_size(_tree_size(src), policy)
            if dst.exists():
                raise ValidationError(f"{params['destination']!r} exists; copy a directory to a new path")
            # Symlinks are copied as links, never followed: a link must not smuggle outside data in.
            shutil.copytree(src, dst, symlinks=True)
        else:
            check_size(src.stat().st_size, policy)
            shutil.copy2(src, dst)
        return {"source": str(src), "destination": str(dst)}, f"copied to {params['destination']}"

    def _move(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        link = _own_symlink(params["path"], policy)
        src = link or resolve_path(params["path"], policy, for_write=True, must_exist=True)
        dst = self._destination(params, policy)
        shutil.move(str(src), str(dst))
        return {"source": str(src), "destination": str(dst)}, f"moved to {params['destination']}"

    def _destination(self, params: dict[str, Any], policy: SandboxPolicy) -> Path:
        dst = resolve_path(params["destination"], policy)
        if dst.is_dir():
            dst = dst / Path(params["path"]).name
        dst = resolve_path(str(dst), policy, for_write=True)
        if dst.exists() and not params.get("overwrite", True):
            raise ValidationError(f"{params['destination']!r} exists; pass overwrite=true to replace it")
        if not dst.parent.is_dir():
            raise NotFound(
                f"directory {str(dst.parent)!r} does not exist; create it with operation 'mkdir'",
                details={"kind": "directory", "name": str(dst.parent)},
            )
        return dst

    def _list(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        path = resolve_path(params["path"], policy, must_exist=True)
        if not path.is_dir():
            raise ValidationError(f"{params['path']!r} is not a directory")
        cap = params.get("max_entries", 1000)
        entries: list[dict[str, Any]] = []
        truncated = False
        for child, _ in walk(path, recursive=params.get("recursive", False), include_hidden=True):
            if len(entries) >= cap:
                truncated = True
                break
            entries.append(entry_info(child, relative_to=path))
        return {"entries": entries, "count": len(entries), "truncated": truncated}, (
            f"{len(entries)} entries" + (" (truncated)" if truncated else "")
        )

    def _exists(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        path = resolve_path(params["path"], policy)
        found = path.exists()
        kind = _kind(path.lstat().st_mode) if found else None
        return {"exists": found, "type": kind}, "exists" if found else "does not exist"

    def _mkdir(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        path = resolve_path(params["path"], policy, for_write=True)
        if path.exists() and not path.is_dir():
            raise ValidationError(f"{params['path']!r} exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        return {"path": str(path), "created": True}, f"created {params['path']}"

    def _stat(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[Any, str]:
        path = resolve_path(params["path"], policy, must_exist=True)
        st = path.stat()
        result = {
            "path": str(path),
            "type": _kind(st.st_mode),
            "size": st.st_size,
            "mode": oct(stat.S_IMODE(st.st_mode)),
            "modified": _iso(st.st_mtime),
            "accessed": _iso(st.st_atime),
            "changed": _iso(st.st_ctime),
            "readable": os.access(path, os.R_OK),
            "writable": os.access(path, os.W_OK),
        }
        return result, f"{result['type']} of {st.st_size} bytes"


class FileSearchTool(BaseTool):
    """Find files by glob and, optionally, lines matching a regular expression."""

    name = "file-search"
    category = "filesystem"
    description = "Find files under a directory by glob pattern and optionally grep their content by regex."
    security_level = "restricted"
    timeout_s = 30.0
    schema = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "default": ".", "description": "Directory to search."},
            "pattern": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "default": "*",
                "description": "Glob; '**' crosses directories; without '/' it matches names.",
            },
            "content": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "Regex to grep."},
            "case_sensitive": {"type": "boolean", "default": True},
            "include_hidden": {"type": "boolean", "default": False},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100},
            "max_file_bytes": {
                "type": "integer",
                "minimum": 1,
                "default": 1_000_000,
                "description": "Skip larger files when grepping.",
            },
            "encoding": {"type": "string", "default": "utf-8"},
        },
        "additionalProperties": False,
    }

    _LINE_CAP = 10_000  # long lines are cut before matching: bounds regex cost per line

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        root = resolve_path(params.get("path", "."), ctx.policy, must_exist=True)
        if not root.is_dir():
            raise ValidationError(f"{params.get('path', '.')!r} is not a directory")
        matcher = glob_regex(params.get("pattern", "*"))
        grep: re.Pattern[str] | None = None
        if "content" in params:
            flags = 0 if params.get("case_sensitive", True) else re.IGNORECASE
            try:
                grep = re.compile(params["content"], flags)
            except re.error as exc:
                raise ValidationError(f"content is not a valid regular expression: {exc}") from exc
        return await asyncio.to_thread(self._search, root, matcher, grep, params, ctx)

    def _search(
        self,
        root: Path,
        matcher: re.Pattern[str],
        grep: re.Pattern[str] | None,
        params: dict[str, Any],
        ctx: ExecutionContext,
    ) -> ToolOutput:
        cap: int = params.get("max_results", 100)
        max_file = min(params.get("max_file_bytes", 1_000_000), ctx.policy.max_file_bytes)
        encoding: str = params.get("encoding", "utf-8")
        results: list[dict[str, Any]] = []
        scanned = skipped = 0
        truncated = False
        visited = 0
        for path, st in walk(root, recursive=True, include_hidden=params.get("include_hidden", False)):
            visited += 1
            if visited % 1000 == 0:
                ctx.check()
            if visited > _MAX_VISITED:
                truncated = True
                break
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = path.relative_to(root).as_posix()
            if not matcher.match(rel):
                continue
            if grep is None:
                if len(results) >= cap:
                    truncated = True
                    break
                results.append({"path": rel, "size": st.st_size, "modified": _iso(st.st_mtime)})
                continue
            if st.st_size > max_file:
                skipped += 1
                continue
            ctx.check()
            scanned += 1
            if self._grep_file(path, rel, grep, encoding, results, cap):
                truncated = True
                break
        kind = "matches" if grep is not None else "files"
        message = f"{len(results)} {kind}" + (" (truncated)" if truncated else "")
        result = {kind: results, "count": len(results), "truncated": truncated}
        if grep is not None:
            result |= {"files_scanned": scanned, "files_skipped": skipped}
        return ToolOutput(operation="grep" if grep is not None else "glob", result=result, message=message)

    def _grep_file(
        self,
        path: Path,
        rel: str,
        grep: re.Pattern[str],
        encoding: str,
        results: list[dict[str, Any]],
        cap: int,
    ) -> bool:
        """Append matches of one file; True when the result cap was hit."""
        try:
            with path.open("r", encoding=encoding, errors="replace") as handle:
                for number, line in enumerate(handle, start=1):
                    text = line.rstrip("\r\n")[: self._LINE_CAP]
                    if grep.search(text):
                        if len(results) >= cap:
                            return True
                        results.append({"path": rel, "line": number, "text": text[:500]})
        except LookupError as exc:
            raise ValidationError(f"unknown encoding {encoding!r}") from exc
        except OSError:
            return False
        return False
