"""``llmspell.v1.Sessions`` on a real ``llmspell serve`` (SQLite, API keys on), through the
generated stubs: lifecycle, streamed artifacts both ways, errors, scopes, and the REST shapes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import httpx
import pytest
from fakes.daemon import LLMSPELL, Daemon, start_daemon
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from llmspell.runtime.abc import ControlPlane
from llmspell.server.auth import Authenticator
from llmspell.server.grpc import bound_port, start_grpc_server, stop_grpc_server
from llmspell.server.grpc.gen.llmspell.v1 import sessions_pb2, sessions_pb2_grpc
from llmspell.storage.abc import Store

Metadata = tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("grpc-sessions")))
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture(scope="module")
def keys(daemon: Daemon) -> dict[str, Metadata]:
    """Bearer metadata for an admin key, a sessions:read key and a runs:read key."""
    made = {}
    for name, scope in (("admin", "admin"), ("reader", "sessions:read"), ("runs", "runs:read")):
        created = subprocess.run(
            [LLMSPELL, "keys", "create", f"grpc-{name}", "--scope", scope, "--json"],
            env=daemon.cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        made[name] = (("authorization", f"Bearer {json.loads(created.stdout)['key']}"),)
    return made


@pytest.fixture
async def stub(daemon: Daemon) -> AsyncIterator[sessions_pb2_grpc.SessionsStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}") as channel:
        yield sessions_pb2_grpc.SessionsStub(channel)


def _dict(message: Any) -> dict[str, Any]:
    found: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return found


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(value, struct_pb2.Struct())


async def _error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


def _code(error: grpc.aio.AioRpcError) -> str:
    return str(dict(error.trailing_metadata() or ())["llmspell-error-code"])


async def _upload(
    stub: sessions_pb2_grpc.SessionsStub,
    auth: Metadata,
    header: sessions_pb2.ArtifactUploadHeader,
    chunks: list[bytes],
) -> sessions_pb2.Artifact:
    async def requests() -> AsyncIterator[sessions_pb2.UploadArtifactRequest]:
        yield sessions_pb2.UploadArtifactRequest(header=header)
        for chunk in chunks:
            yield sessions_pb2.UploadArtifactRequest(chunk=chunk)

    artifact: sessions_pb2.Artifact = await stub.UploadArtifact(requests(), metadata=auth, timeout=30)
    return artifact


async def _download(
    stub: sessions_pb2_grpc.SessionsStub, auth: Metadata, request: sessions_pb2.ArtifactRequest
) -> tuple[sessions_pb2.Artifact, list[bytes]]:
    messages = [m async for m in stub.DownloadArtifact(request, metadata=auth, timeout=30)]
    assert messages and messages[0].WhichOneof("part") == "artifact"
    assert all(m.WhichOneof("part") == "data" for m in messages[1:])
    return messages[0].artifact, [m.data for m in messages[1:]]


async def test_health_and_reflection_name_sessions(daemon: Daemon) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service="llmspell.v1.Sessions"))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING

        async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        listed = [r async for r in reflection.ServerReflectionInfo(ask())]
        assert len(listed) == 1
        assert "llmspell.v1.Sessions" in {s.name for s in listed[0].list_services_response.service}


async def test_session_lifecycle(stub: sessions_pb2_grpc.SessionsStub, keys: dict[str, Metadata]) -> None:
    auth = keys["admin"]
    created = await stub.Create(
        sessions_pb2.CreateSessionRequest(
            name="grpc-s1", description="first", tags=["x", "y"], metadata=_struct({"k": 1, "keep": "a"})
        ),
        metadata=auth,
        timeout=30,
    )
    sid = created.id
    assert (created.name, created.description, created.status, list(created.tags)) == (
        "grpc-s1",
        "first",
        "active",
        ["x", "y"],
    )
    assert created.created_at and created.updated_at and not created.HasField("ended_at")
    got = await stub.Get(sessions_pb2.SessionIdRequest(id=sid), metadata=auth, timeout=30)
    assert _dict(got) == _dict(created) and _dict(got)["metadata"] == {"k": 1, "keep": "a"}

    other = await stub.Create(
        sessions_pb2.CreateSessionRequest(name="grpc-s2", tags=["x"]), metadata=auth, timeout=30
    )
    # Newest first; tag filters need every tag; limit + cursor page through.
    tagged = await stub.List(sessions_pb2.ListSessionsRequest(tag=["x"]), metadata=auth, timeout=30)
    assert [s.id for s in tagged.items][:2] == [other.id, sid]
    both = await stub.List(sessions_pb2.ListSessionsRequest(tag=["x", "y"]), metadata=auth, timeout=30)
    assert [s.id for s in both.items] == [sid] and not both.HasField("next_cursor")
    page = await stub.List(sessions_pb2.ListSessionsRequest(limit=1, tag=["x"]), metadata=auth, timeout=30)
    assert [s.id for s in page.items] == [other.id] and page.HasField("next_cursor")
    rest = await stub.List(
        sessions_pb2.ListSessionsRequest(limit=1, tag=["x"], cursor=page.next_cursor),
        metadata=auth,
        timeout=30,
    )
    assert [s.id for s in rest.items] == [sid]

    # Update: metadata merges, tags replace; an absent field is left alone, empty tags clear.
    updated = await stub.Update(
        sessions_pb2.UpdateSessionRequest(id=sid, metadata=_struct({"k": 2, "new": True})),
        metadata=auth,
        timeout=30,
    )
    assert _dict(updated)["metadata"] == {"k": 2, "keep": "a", "new": True} and list(updated.tags) == [
        "x",
        "y",
    ]
    retagged = await stub.Update(
        sessions_pb2.UpdateSessionRequest(id=sid, tags=sessions_pb2.SessionTags(values=["z"])),
        metadata=auth,
        timeout=30,
    )
    assert list(retagged.tags) == ["z"] and _dict(retagged)["metadata"]["new"] is True
    cleared = await stub.Update(
        sessions_pb2.UpdateSessionRequest(id=sid, tags=sessions_pb2.SessionTags()), metadata=auth, timeout=30
    )
    assert list(cleared.tags) == []

    ident = sessions_pb2.SessionIdRequest(id=sid)
    assert (await stub.Suspend(ident, metadata=auth, timeout=30)).status == "suspended"
    suspended = await stub.List(
        sessions_pb2.ListSessionsRequest(status="suspended"), metadata=auth, timeout=30
    )
    assert [s.id for s in suspended.items] == [sid]
    assert (await stub.Resume(ident, metadata=auth, timeout=30)).status == "active"
    completed = await stub.Complete(ident, metadata=auth, timeout=30)
    assert completed.status == "completed" and completed.ended_at
    refused = await _error(stub.Fail(ident, metadata=auth, timeout=30))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT and _code(refused) == "VALIDATION"
    assert "completed" in (refused.details() or "")
    assert (await stub.Fail(sessions_pb2.SessionIdRequest(id=other.id), metadata=auth, timeout=30)).ended_at

    bad_status = await _error(
        stub.List(sessions_pb2.ListSessionsRequest(status="sleeping"), metadata=auth, timeout=30)
    )
    assert bad_status.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_limit = await _error(
        stub.List(sessions_pb2.ListSessionsRequest(limit=1001), metadata=auth, timeout=30)
    )
    assert bad_limit.code() == grpc.StatusCode.INVALID_ARGUMENT and _code(bad_limit) == "VALIDATION"

    await stub.Delete(ident, metadata=auth, timeout=30)
    gone = await _error(stub.Get(ident, metadata=auth, timeout=30))
    assert gone.code() == grpc.StatusCode.NOT_FOUND and _code(gone) == "NOT_FOUND"
    for call in (stub.Delete, stub.Complete, stub.Export):
        missing = await _error(call(ident, metadata=auth, timeout=30))
        assert missing.code() == grpc.StatusCode.NOT_FOUND
    empty = await _error(stub.Get(sessions_pb2.SessionIdRequest(), metadata=auth, timeout=30))
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT and "id is required" in (empty.details() or "")


async def test_artifacts_stream_both_ways(
    stub: sessions_pb2_grpc.SessionsStub, keys: dict[str, Metadata], daemon: Daemon
) -> None:
    auth = keys["admin"]
    sid = (await stub.Create(sessions_pb2.CreateSessionRequest(name="files"), metadata=auth, timeout=30)).id
    # 6 MiB: over the 4 MB gRPC message limit, so it only arrives as a stream of chunks; and
    # over the inline limit, so it lands in the blob store.
    content = os.urandom(6 * 1024 * 1024)
    chunks = [content[i : i + 512 * 1024] for i in range(0, len(content), 512 * 1024)]
    header = sessions_pb2.ArtifactUploadHeader(
        session_id=sid, name="photo.bin", type="image", media_type="image/png", metadata=_struct({"w": 640})
    )
    stored = await _upload(stub, auth, header, chunks)
    digest = hashlib.sha256(content).hexdigest()
    assert (stored.session_id, stored.name, stored.version, stored.type) == (sid, "photo.bin", 1, "image")
    assert (stored.media_type, stored.size, stored.content_hash) == ("image/png", len(content), digest)
    assert _dict(stored)["metadata"] == {"w": 640} and stored.created_at

    record, data = await _download(
        stub, auth, sessions_pb2.ArtifactRequest(session_id=sid, artifact_id=stored.id)
    )
    assert _dict(record) == _dict(stored) and record.media_type == "image/png"
    assert len(data) > 1 and b"".join(data) == content

    # A second version by name, small (kept inline), media type guessed from the name.
    notes = sessions_pb2.ArtifactUploadHeader(session_id=sid, name="notes.txt")
    first = await _upload(stub, auth, notes, [b"draft"])
    second = await _upload(stub, auth, notes, [b"final ", b"", b"text"])
    assert (first.version, second.version, second.media_type, second.type) == (1, 2, "text/plain", "file")
    latest, text = await _download(
        stub, auth, sessions_pb2.ArtifactRequest(session_id=sid, artifact_id="notes.txt")
    )
    assert latest.id == second.id and b"".join(text) == b"final text"
    older = await stub.GetArtifactMetadata(
        sessions_pb2.ArtifactRequest(session_id=sid, artifact_id="notes.txt", version=1),
        metadata=auth,
        timeout=30,
    )
    assert older.id == first.id and older.size == len(b"draft")
    empty = await _upload(stub, auth, sessions_pb2.ArtifactUploadHeader(session_id=sid, name="empty.dat"), [])
    blank, nothing = await _download(
        stub, auth, sessions_pb2.ArtifactRequest(session_id=sid, artifact_id=empty.id)
    )
    assert (blank.size, nothing, blank.media_type) == (0, [], "application/octet-stream")

    listed = await stub.ListArtifacts(
        sessions_pb2.ListArtifactsRequest(session_id=sid), metadata=auth, timeout=30
    )
    assert {a.id for a in listed.items} == {stored.id, first.id, second.id, empty.id}
    assert not listed.HasField("next_cursor")
    by_name = await stub.ListArtifacts(
        sessions_pb2.ListArtifactsRequest(session_id=sid, name="notes.txt"), metadata=auth, timeout=30
    )
    assert sorted(a.version for a in by_name.items) == [1, 2]

    # Export inlines content up to 10 MB each (base64): over the default 4 MB receive limit
    # of a client, which raises it for this call.
    too_big = await _error(stub.Export(sessions_pb2.SessionIdRequest(id=sid), metadata=auth, timeout=30))
    assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    roomy = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}", options=roomy) as channel:
        exported = await sessions_pb2_grpc.SessionsStub(channel).Export(
            sessions_pb2.SessionIdRequest(id=sid), metadata=auth, timeout=30
        )
    assert _dict(exported.session) == _dict(
        await stub.Get(sessions_pb2.SessionIdRequest(id=sid), metadata=auth)
    )
    assert not list(exported.replay) and not list(exported.state)
    contents = {a.id: a.content_base64 for a in exported.artifacts}
    assert len(contents) == 4 and contents[second.id] == base64.b64encode(b"final text").decode()
    assert base64.b64decode(contents[stored.id]) == content

    # Deleting by id removes that version; by name every version.
    await stub.DeleteArtifact(
        sessions_pb2.DeleteArtifactRequest(session_id=sid, artifact_id=stored.id), metadata=auth, timeout=30
    )
    missing = await _error(
        stub.GetArtifactMetadata(
            sessions_pb2.ArtifactRequest(session_id=sid, artifact_id=stored.id), metadata=auth, timeout=30
        )
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND and _code(missing) == "NOT_FOUND"
    await stub.DeleteArtifact(
        sessions_pb2.DeleteArtifactRequest(session_id=sid, artifact_id="notes.txt"), metadata=auth, timeout=30
    )
    left = await stub.ListArtifacts(
        sessions_pb2.ListArtifactsRequest(session_id=sid), metadata=auth, timeout=30
    )
    assert [a.id for a in left.items] == [empty.id]
    again = await _error(
        stub.DeleteArtifact(
            sessions_pb2.DeleteArtifactRequest(session_id=sid, artifact_id="notes.txt"),
            metadata=auth,
            timeout=30,
        )
    )
    assert again.code() == grpc.StatusCode.NOT_FOUND


async def test_artifact_errors(stub: sessions_pb2_grpc.SessionsStub, keys: dict[str, Metadata]) -> None:
    auth = keys["admin"]
    sid = (await stub.Create(sessions_pb2.CreateSessionRequest(name="errs"), metadata=auth, timeout=30)).id
    unknown = await _error(
        _upload(stub, auth, sessions_pb2.ArtifactUploadHeader(session_id="no-such-session", name="a"), [b"x"])
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and _code(unknown) == "NOT_FOUND"
    not_there = await _error(
        _download(stub, auth, sessions_pb2.ArtifactRequest(session_id=sid, artifact_id="nothing"))
    )
    assert not_there.code() == grpc.StatusCode.NOT_FOUND
    zero = await _error(
        stub.GetArtifactMetadata(
            sessions_pb2.ArtifactRequest(session_id=sid, artifact_id="a", version=0),
            metadata=auth,
            timeout=30,
        )
    )
    assert zero.code() == grpc.StatusCode.INVALID_ARGUMENT
    listing = await _error(
        stub.ListArtifacts(sessions_pb2.ListArtifactsRequest(session_id="no-such"), metadata=auth, timeout=30)
    )
    assert listing.code() == grpc.StatusCode.NOT_FOUND

    async def headless() -> AsyncIterator[sessions_pb2.UploadArtifactRequest]:
        yield sessions_pb2.UploadArtifactRequest(chunk=b"data first")

    no_header = await _error(stub.UploadArtifact(headless(), metadata=auth, timeout=30))
    assert no_header.code() == grpc.StatusCode.INVALID_ARGUMENT and "header" in (no_header.details() or "")
    nothing = await _error(stub.UploadArtifact(_nothing(), metadata=auth, timeout=30))
    assert nothing.code() == grpc.StatusCode.INVALID_ARGUMENT

    header = sessions_pb2.ArtifactUploadHeader(session_id=sid, name="twice")

    async def two_headers() -> AsyncIterator[sessions_pb2.UploadArtifactRequest]:
        yield sessions_pb2.UploadArtifactRequest(header=header)
        yield sessions_pb2.UploadArtifactRequest(chunk=b"a")
        yield sessions_pb2.UploadArtifactRequest(header=header)

    twice = await _error(stub.UploadArtifact(two_headers(), metadata=auth, timeout=30))
    assert twice.code() == grpc.StatusCode.INVALID_ARGUMENT
    nameless = await _error(_upload(stub, auth, sessions_pb2.ArtifactUploadHeader(session_id=sid), [b"x"]))
    assert nameless.code() == grpc.StatusCode.INVALID_ARGUMENT and "header.name" in (nameless.details() or "")
    # No failed upload left a version behind.
    left = await stub.ListArtifacts(
        sessions_pb2.ListArtifactsRequest(session_id=sid), metadata=auth, timeout=30
    )
    assert list(left.items) == []


async def _nothing() -> AsyncIterator[sessions_pb2.UploadArtifactRequest]:
    for message in ():
        yield message


async def test_scopes(stub: sessions_pb2_grpc.SessionsStub, keys: dict[str, Metadata]) -> None:
    sid = (
        await stub.Create(
            sessions_pb2.CreateSessionRequest(name="scoped"), metadata=keys["admin"], timeout=30
        )
    ).id
    await _upload(
        stub, keys["admin"], sessions_pb2.ArtifactUploadHeader(session_id=sid, name="f.txt"), [b"hi"]
    )
    reader, runs = keys["reader"], keys["runs"]
    ident = sessions_pb2.SessionIdRequest(id=sid)
    # sessions:read reads, and is refused every write.
    assert (await stub.Get(ident, metadata=reader, timeout=30)).name == "scoped"
    _, data = await _download(stub, reader, sessions_pb2.ArtifactRequest(session_id=sid, artifact_id="f.txt"))
    assert data == [b"hi"]
    writes = [
        stub.Create(sessions_pb2.CreateSessionRequest(name="no"), metadata=reader, timeout=30),
        stub.Complete(ident, metadata=reader, timeout=30),
        stub.Update(sessions_pb2.UpdateSessionRequest(id=sid), metadata=reader, timeout=30),
        stub.DeleteArtifact(
            sessions_pb2.DeleteArtifactRequest(session_id=sid, artifact_id="f.txt"),
            metadata=reader,
            timeout=30,
        ),
        _upload(stub, reader, sessions_pb2.ArtifactUploadHeader(session_id=sid, name="g"), [b"x"]),
    ]
    for call in writes:
        denied = await _error(call)
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED and _code(denied) == "PERMISSION_DENIED"
    # Another service's scope reads nothing here, streams included.
    for read in (
        stub.List(sessions_pb2.ListSessionsRequest(), metadata=runs, timeout=30),
        _download(stub, runs, sessions_pb2.ArtifactRequest(session_id=sid, artifact_id="f.txt")),
        stub.Export(ident, metadata=runs, timeout=30),
    ):
        assert (await _error(read)).code() == grpc.StatusCode.PERMISSION_DENIED
    anonymous = await _error(stub.Get(ident, timeout=30))
    assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED
    # The refused writes changed nothing.
    assert (await stub.Get(ident, metadata=reader, timeout=30)).status == "active"


async def test_same_records_as_rest(
    stub: sessions_pb2_grpc.SessionsStub, keys: dict[str, Metadata], daemon: Daemon
) -> None:
    auth = keys["admin"]
    created = await stub.Create(
        sessions_pb2.CreateSessionRequest(name="both", tags=["t"], metadata=_struct({"n": 3, "s": "v"})),
        metadata=auth,
        timeout=30,
    )
    stored = await _upload(
        stub, auth, sessions_pb2.ArtifactUploadHeader(session_id=created.id, name="d.json"), [b'{"a": 1}']
    )
    headers = {"authorization": auth[0][1]}
    async with httpx.AsyncClient(base_url=daemon.url, headers=headers, timeout=30) as http:
        session = (await http.get(f"/v1/sessions/{created.id}")).json()
        artifact = (await http.get(f"/v1/sessions/{created.id}/artifacts/{stored.id}/metadata")).json()
        content = await http.get(f"/v1/sessions/{created.id}/artifacts/d.json")
    # Strict parsing: every REST field has its namesake in the message, with the same value.
    assert session["ended_at"] is None and json_format.ParseDict(session, sessions_pb2.Session()) == created
    assert json_format.ParseDict(artifact, sessions_pb2.Artifact()) == stored
    assert artifact["media_type"] == "application/json" and artifact["size"] == stored.size == 8
    assert content.content == b'{"a": 1}' and content.headers["content-type"] == stored.media_type


async def test_a_control_plane_without_persistence_is_failed_precondition() -> None:
    # No API keys are configured, so the authenticator never reads its store.
    auth = Authenticator(cast(Store, None))
    server = await start_grpc_server(cast(ControlPlane, object()), auth, "127.0.0.1", 0, metrics=False)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound_port(server)}") as channel:
            stub = sessions_pb2_grpc.SessionsStub(channel)
            refused = await _error(stub.Get(sessions_pb2.SessionIdRequest(id="s"), timeout=30))
    finally:
        await stop_grpc_server(server, grace=None)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION and _code(refused) == "CONFIG_ERROR"
    assert "no session services" in (refused.details() or "")
