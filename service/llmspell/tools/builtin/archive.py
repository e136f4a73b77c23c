"""archive-handler: create, list and extract zip, tar and tar.gz archives safely.

Extraction is the dangerous part. Every member is checked before anything is written
(zip-slip: absolute names, ``..``, symlinks or hard links leading out, devices/FIFOs;
zip bombs: member count, declared total size and compression ratio), bytes are counted
again while writing (headers can lie), and everything lands first in a staging directory
inside the target that is moved into place only when the whole archive passed. On any
refusal the staging directory is removed, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal, cast

from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import LimitExceeded, SandboxViolation, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.filesystem import walk
from llmspell.tools.sandbox import check_size, resolve_path

__all__ = ["ArchiveHandlerTool", "ArchiveLimits", "Member", "safe_member_path"]

Format = Literal["zip", "tar", "tar.gz"]
_CHUNK = 64 * 1024
_TAR_OVERHEAD = 1024  # a header block plus padding per member, for the stream-size bound


@dataclass(frozen=True, kw_only=True, slots=True)
class ArchiveLimits:
    """Bounds checked before and while extracting."""

    max_total_bytes: int
    max_members: int
    max_ratio: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Member:
    """One archive entry as the extractor sees it."""

    name: str
    kind: Literal["file", "directory", "symlink", "hardlink", "other"]
    size: int
    compressed_size: int | None = None
    link_target: str | None = None


def safe_member_path(name: str, target: Path) -> Path:
    """Where member ``name`` lands under ``target``; SandboxViolation if it would escape."""
    if not name or "\x00" in name:
        raise SandboxViolation(f"archive member has an invalid name {name!r}")
    posix = name.replace("\\", "/")
    pure = PurePosixPath(posix)
    if pure.is_absolute() or (len(posix) > 1 and posix[1] == ":"):
        raise SandboxViolation(f"archive member {name!r} has an absolute path; refusing to extract")
    if ".." in pure.parts:
        raise SandboxViolation(f"archive member {name!r} escapes the target directory with '..'")
    parts = [part for part in pure.parts if part not in ("", ".")]
    if not parts:
        raise SandboxViolation(f"archive member {name!r} names the target directory itself")
    return target.joinpath(*parts)


def _link_stays_inside(member: Member, target: Path) -> None:
    link = member.link_target or ""
    where = safe_member_path(member.name, target)
    if member.kind == "hardlink":
        # Tar hard links name another member, relative to the archive root.
        safe_member_path(link, target)
        return
    if not link or PurePosixPath(link).is_absolute() or link.startswith("\\"):
        raise SandboxViolation(f"symlink {member.name!r} points to an absolute path {link!r}")
    resolved = os.path.normpath(os.path.join(os.path.dirname(where), link))
    if os.path.commonpath([resolved, str(target)]) != str(target):
        raise SandboxViolation(f"symlink {member.name!r} points outside the target ({link!r})")


def _check_members(members: list[Member], target: Path, limits: ArchiveLimits) -> None:
    if len(members) > limits.max_members:
        raise LimitExceeded(f"archive has {len(members)} members, more than max_members={limits.max_members}")
    total = sum(m.size for m in members)
    if total > limits.max_total_bytes:
        raise LimitExceeded(
            f"archive expands to {total} bytes, more than max_total_bytes={limits.max_total_bytes}"
        )
    compressed = sum(m.compressed_size or 0 for m in members)
    if compressed and total > 1_000_000 and total / compressed > limits.max_ratio:
        raise LimitExceeded(
            f"archive compression ratio {total / compressed:.0f} exceeds max_ratio={limits.max_ratio:g}"
        )
    for member in members:
        safe_member_path(member.name, target)
        if member.kind == "other":
            raise SandboxViolation(f"archive member {member.name!r} is a device or FIFO; refusing")
        if member.kind in ("symlink", "hardlink"):
            _link_stays_inside(member, target)
        if (
            member.compressed_size
            and member.size > 1_000_000
            and member.size / member.compressed_size > limits.max_ratio
        ):
            raise LimitExceeded(
                f"member {member.name!r} compression ratio {member.size / member.compressed_size:.0f} "
                f"exceeds max_ratio={limits.max_ratio:g}"
            )


def detect_format(path: Path, declared: str | None) -> Format:
    """The archive format from the parameter, the file name, or the magic bytes."""
    if declared in ("zip", "tar", "tar.gz"):
        return declared  # type: ignore[return-value]
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if name.endswith(".tar"):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(4)
        if head.startswith(b"PK"):
            return "zip"
        if head.startswith(b"\x1f\x8b"):
            return "tar.gz"
        return "tar"
    raise ValidationError(f"cannot tell the format of {path.name!r}; pass format='zip'|'tar'|'tar.gz'")


class _BoundedReader:
    """A read-only file wrapper that refuses to go past ``limit`` bytes of (decompressed) data."""

    def __init__(self, raw: gzip.GzipFile, limit: int, why: str) -> None:
        self._raw = raw
        self._limit = limit
        self._why = why

    def _check(self) -> None:
        if self._raw.tell() > self._limit:
            raise LimitExceeded(self._why)

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n if n >= 0 else self._limit + 1)
        self._check()
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self._raw.seek(offset, whence)
        self._check()
        return pos

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()


@contextlib.contextmanager
def _open_tar(path: Path, fmt: Format, limits: ArchiveLimits) -> Iterator[tarfile.TarFile]:
    raw = path.open("rb")
    stream: IO[bytes] = raw
    if fmt == "tar.gz":
        bound = min(
            limits.max_total_bytes + _TAR_OVERHEAD * (limits.max_members + 2),
            int(max(path.stat().st_size, 1) * limits.max_ratio) + _TAR_OVERHEAD * 4,
        )
        why = "tar.gz decompresses past max_total_bytes or max_ratio (gzip bomb?); refusing"
        stream = cast(IO[bytes], _BoundedReader(gzip.GzipFile(fileobj=raw, mode="rb"), bound, why))
    try:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            yield tar
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, OSError) as exc:
        raise ToolError(f"cannot read archive {path.name!r}: {exc}") from exc
    finally:
        stream.close()
        raw.close()


def _tar_members(tar: tarfile.TarFile, limits: ArchiveLimits) -> tuple[list[Member], list[tarfile.TarInfo]]:
    infos: list[tarfile.TarInfo] = []
    for info in tar:
        infos.append(info)
        if len(infos) > limits.max_members:
            raise LimitExceeded(f"archive has more than max_members={limits.max_members} members")
    members = []
    for info in infos:
        kind: Literal["file", "directory", "symlink", "hardlink", "other"]
        kind = (
            "file"
            if info.isreg()
            else "directory"
            if info.isdir()
            else "symlink"
            if info.issym()
            else "hardlink"
            if info.islnk()
            else "other"
        )
        link = info.linkname if kind in ("symlink", "hardlink") else None
        members.append(Member(name=info.name, kind=kind, size=info.size, link_target=link))
    return members, infos


def _zip_kind(info: zipfile.ZipInfo) -> Literal["file", "directory", "symlink", "other"]:
    mode = info.external_attr >> 16
    if info.is_dir():
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # writers often store permission bits only
        return "other"
    return "file"


def _zip_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[Member]:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise LimitExceeded(f"archive has {len(infos)} members, more than max_members={limits.max_members}")
    members = []
    for info in infos:
        kind = _zip_kind(info)
        link = None
        if kind == "symlink":
            if info.file_size > 4096:
                raise SandboxViolation(f"symlink member {info.filename!r} has an oversized target")
            link = archive.read(info).decode("utf-8", "replace")
        members.append(
            Member(
                name=info.filename,
                kind=kind,
                size=info.file_size,
                compressed_size=info.compress_size,
                link_target=link,
            )
        )
    return members


def _prepare_dest(dest: Path, staging: Path) -> None:
    """Make ``dest`` writable without following anything out of ``staging``.

    Lexical checks cannot see through symlinks extracted earlier (``a -> .`` then
    ``b -> a/..``), so the real path of the parent is checked before every write.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    real_parent = os.path.realpath(dest.parent)
    if os.path.commonpath([real_parent, str(staging)]) != str(staging):
        raise SandboxViolation(f"archive member {dest.name!r} would be written outside the target")
    if dest.is_symlink() or dest.is_file():
        dest.unlink()  # a later duplicate member replaces the earlier one, as tar does


def _verify_links(staging: Path) -> None:
    """Every extracted symlink must resolve inside the staging tree."""
    for path, st in walk(staging, recursive=True, include_hidden=True):
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(path)
            if os.path.commonpath([real, str(staging)]) != str(staging):
                raise SandboxViolation(f"symlink {path.name!r} resolves outside the target; refusing")


class _Budget:
    """Counts bytes actually written across the whole extraction."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def copy(self, src: IO[bytes], dst: Path, declared: int, name: str) -> None:
        written = 0
        with dst.open("wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                self.used += len(chunk)
                if written > declared:
                    raise LimitExceeded(f"member {name!r} is larger than its header says; refusing")
                if self.used > self.limit:
                    raise LimitExceeded(f"archive expands past max_total_bytes={self.limit}; refusing")
                out.write(chunk)


def _extract_zip(path: Path, staging: Path, limits: ArchiveLimits) -> list[Member]:
    budget = _Budget(limits.max_total_bytes)
    try:
        with zipfile.ZipFile(path) as archive:
            members = _zip_members(archive, limits)
            _check_members(members, staging, limits)
            for member, info in zip(members, archive.infolist(), strict=True):
                dest = safe_member_path(member.name, staging)
                _prepare_dest(dest, staging)
                if member.kind == "directory":
                    dest.mkdir(exist_ok=True)
                    continue
                if member.kind == "symlink":
                    os.symlink(member.link_target or "", dest)
                    continue
                with archive.open(info) as src:
                    budget.copy(src, dest, member.size, member.name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ToolError(f"cannot read zip archive {path.name!r}: {exc}") from exc
    return members


def _extract_tar(path: Path, fmt: Format, staging: Path, limits: ArchiveLimits) -> list[Member]:
    budget = _Budget(limits.max_total_bytes)
    with _open_tar(path, fmt, limits) as tar:
        members, infos = _tar_members(tar, limits)
        _check_members(members, staging, limits)
        for member, info in zip(members, infos, strict=True):
            dest = safe_member_path(member.name, staging)
            _prepare_dest(dest, staging)
            if member.kind == "directory":
                dest.mkdir(exist_ok=True)
                continue
            if member.kind == "symlink":
                os.symlink(member.link_target or "", dest)
            elif member.kind == "hardlink":
                source = safe_member_path(member.link_target or "", staging)
                real = os.path.realpath(source)
                inside = os.path.commonpath([real, str(staging)]) == str(staging)
                if not inside or not source.is_file() or source.is_symlink():
                    raise SandboxViolation(f"hard link {member.name!r} does not name an extracted file")
                with source.open("rb") as linked:
                    budget.copy(linked, dest, source.stat().st_size, member.name)
            else:
                data = tar.extractfile(info)
                if data is None:
                    raise ToolError(f"cannot read member {member.name!r}")
                with data:
                    budget.copy(data, dest, member.size, member.name)
    return members


def _place(staging: Path, target: Path, overwrite: bool) -> None:
    """Move the staged tree into ``target``; conflicts are checked before anything moves."""
    tops = list(staging.iterdir())
    conflicts = [p.name for p in tops if (target / p.name).exists() or (target / p.name).is_symlink()]
    if conflicts and not overwrite:
        raise ValidationError(f"extraction would overwrite {conflicts[:5]}; pass overwrite=true")
    for top in tops:
        dest = target / top.name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif dest.exists() or dest.is_symlink():
            dest.unlink()
        os.replace(top, dest)


class ArchiveHandlerTool(BaseTool):
    """Create, list and extract zip/tar/tar.gz archives inside the sandbox."""

    name = "archive-handler"
    category = "filesystem"
    description = (
        "Create, list and extract zip, tar and tar.gz archives inside the sandbox, refusing "
        "zip-slip paths, escaping links and zip bombs."
    )
    security_level = "restricted"
    timeout_s = 120.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["create", "extract", "list"]},
            "path": {"type": "string", "minLength": 1, "description": "The archive file."},
            "format": {"enum": ["zip", "tar", "tar.gz"], "description": "Default: from the file name."},
            "files": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "description": "Files or directories to put in the archive (create).",
            },
            "destination": {"type": "string", "minLength": 1, "description": "Extract into this directory."},
            "overwrite": {"type": "boolean", "default": False},
            "max_total_bytes": {"type": "integer", "minimum": 1, "description": "Cap on uncompressed size."},
            "max_members": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 10_000},
            "max_ratio": {"type": "number", "minimum": 1, "default": 200},
        },
        "required": ["operation", "path"],
        "additionalProperties": False,
        "allOf": [
            {"if": {"properties": {"operation": {"const": "create"}}}, "then": {"required": ["files"]}},
            {
                "if": {"properties": {"operation": {"const": "extract"}}},
                "then": {"required": ["destination"]},
            },
        ],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        policy = ctx.policy
        limits = ArchiveLimits(
            max_total_bytes=min(params.get("max_total_bytes", policy.max_file_bytes), policy.max_file_bytes),
            max_members=params.get("max_members", 10_000),
            max_ratio=float(params.get("max_ratio", 200)),
        )
        operation: str = params["operation"]
        handler = {"create": self._create, "extract": self._extract, "list": self._list}[operation]
        return await asyncio.to_thread(handler, params, policy, limits)

    def _list(self, params: dict[str, Any], policy: SandboxPolicy, limits: ArchiveLimits) -> ToolOutput:
        path = resolve_path(params["path"], policy, must_exist=True)
        fmt = detect_format(path, params.get("format"))
        if fmt == "zip":
            try:
                with zipfile.ZipFile(path) as archive:
                    members = _zip_members(archive, limits)
            except zipfile.BadZipFile as exc:
                raise ToolError(f"cannot read zip archive {path.name!r}: {exc}") from exc
        else:
            with _open_tar(path, fmt, limits) as tar:
                members, _ = _tar_members(tar, limits)
        entries = [
            {
                "name": m.name,
                "type": m.kind,
                "size": m.size,
                **({"compressed_size": m.compressed_size} if m.compressed_size is not None else {}),
                **({"link_target": m.link_target} if m.link_target is not None else {}),
            }
            for m in members
        ]
        total = sum(m.size for m in members)
        return ToolOutput(
            operation="list",
            result={"format": fmt, "entries": entries, "count": len(entries), "total_size": total},
            message=f"{len(entries)} members, {total} bytes uncompressed",
        )

    def _extract(self, params: dict[str, Any], policy: SandboxPolicy, limits: ArchiveLimits) -> ToolOutput:
        path = resolve_path(params["path"], policy, must_exist=True)
        fmt = detect_format(path, params.get("format"))
        # Extracting *into* a root is fine; only the members are written, inside staging.
        target = resolve_path(params["destination"], policy)
        target.mkdir(parents=True, exist_ok=True)
        staging = target / f".llmspell-extract-{uuid.uuid4().hex}"
        staging.mkdir()
        staging = Path(os.path.realpath(staging))
        try:
            if fmt == "zip":
                members = _extract_zip(path, staging, limits)
            else:
                members = _extract_tar(path, fmt, staging, limits)
            _verify_links(staging)
            _place(staging, target, params.get("overwrite", False))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        files = [m.name for m in members if m.kind != "directory"]
        return ToolOutput(
            operation="extract",
            result={"destination": str(target), "format": fmt, "extracted": files, "count": len(files)},
            message=f"extracted {len(files)} entries into {params['destination']}",
        )

    def _create(self, params: dict[str, Any], policy: SandboxPolicy, limits: ArchiveLimits) -> ToolOutput:
        out = resolve_path(params["path"], policy, for_write=True)
        if out.exists() and not params.get("overwrite", False):
            raise ValidationError(f"{params['path']!r} exists; pass overwrite=true to replace it")
        fmt = detect_format(out, params.get("format") or self._format_from_name(out))
        sources = [resolve_path(item, policy, must_exist=True) for item in params["files"]]
        entries = self._collect(sources, limits)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        try:
            if fmt == "zip":
                self._write_zip(Path(tmp), entries, policy)
            else:
                with tarfile.open(tmp, "w:gz" if fmt == "tar.gz" else "w") as tar:
                    for arcname, source in entries:
                        tar.add(source, arcname=arcname, recursive=False)
            check_size(Path(tmp).stat().st_size, policy)
            os.replace(tmp, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return ToolOutput(
            operation="create",
            result={"path": str(out), "format": fmt, "count": len(entries), "size": out.stat().st_size},
            message=f"archived {len(entries)} entries into {params['path']}",
        )

    @staticmethod
    def _format_from_name(path: Path) -> str:
        name = path.name.lower()
        if name.endswith((".tar.gz", ".tgz")):
            return "tar.gz"
        if name.endswith(".tar"):
            return "tar"
        if name.endswith(".zip"):
            return "zip"
        raise ValidationError(f"cannot tell the format of {path.name!r}; pass format='zip'|'tar'|'tar.gz'")

    @staticmethod
    def _collect(sources: list[Path], limits: ArchiveLimits) -> list[tuple[str, Path]]:
        entries: list[tuple[str, Path]] = []
        total = 0
        for source in sources:
            entries.append((source.name, source))
            if source.is_dir() and not source.is_symlink():
                for path, st in walk(source, recursive=True, include_hidden=True):
                    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                        continue  # devices, FIFOs and sockets have no place in an archive
                    entries.append((f"{source.name}/{path.relative_to(source).as_posix()}", path))
                    if stat.S_ISREG(st.st_mode):
                        total += st.st_size
            elif source.is_file():
                total += source.stat().st_size
            if len(entries) > limits.max_members:
                raise LimitExceeded(f"more than max_members={limits.max_members} entries to archive")
            if total > limits.max_total_bytes:
                raise LimitExceeded(f"input exceeds max_total_bytes={limits.max_total_bytes}")
        return entries

    @staticmethod
    def _write_zip(tmp: Path, entries: list[tuple[str, Path]], policy: SandboxPolicy) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for arcname, source in entries:
                if source.is_symlink():
                    # Zip has no portable links: store the target's content, but only if it is
                    # itself inside the sandbox (resolve_path refuses otherwise).
                    source = resolve_path(str(source), policy, must_exist=True)
                if source.is_dir():
                    archive.write(source, arcname=arcname + "/")
                elif source.is_file():
                    archive.write(source, arcname=arcname)
