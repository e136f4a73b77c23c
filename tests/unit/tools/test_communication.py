"""email-sender against real aiosmtpd servers on 127.0.0.1: plain, STARTTLS and implicit TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import ConfigError, SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.communication import EmailSenderTool
from llmspell.tools.registry import ToolRegistry


@dataclass
class Mailbox:
    """What the SMTP server received."""

    envelopes: list[tuple[str, list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bot", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def plain_server() -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, box
    controller.stop()


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls(certificate),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    yield controller.port, box
    controller.stop()


@pytest.fixture
def ssl_server(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Mailbox]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls(certificate))
    controller.start()
    yield controller.port, box
    controller.stop()


@pytest.fixture
def root(tmp_path: Path, certificate: tuple[Path, Path]) -> Path:
    path = (tmp_path / "root").resolve()
    path.mkdir()
    (path / "ca.pem").write_bytes(certificate[0].read_bytes())
    return path


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),), network_allow=("127.0.0.1",)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(EmailSenderTool())
    return reg


BASE = {"sender": "Bot <bot@example.org>", "subject": "Report", "body": "All good.", "smtp_host": "127.0.0.1"}


async def test_plain_send_with_cc_bcc_html_and_attachment(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, plain_server: tuple[int, Mailbox]
) -> None:
    port, box = plain_server
    (root / "report.csv").write_text("a,b\n1,2\n")
    params = {
        **BASE,
        "smtp_port": port,
        "security": "plain",
        "to": ["Ada <ada@example.org>", "bob@example.org"],
        "cc": ["carol@example.org"],
        "bcc": ["dave@example.org"],
        "html": "<p>All <b>good</b>.</p>",
        "attachments": ["report.csv"],
    }
    envelope = await registry.invoke("email-sender", params, ctx)
    assert envelope["success"] is True
    assert envelope["result"]["accepted"] == [
        "ada@example.org",
        "bob@example.org",
        "carol@example.org",
        "dave@example.org",
    ]
    (mail_from, rcpts, message) = box.envelopes[0]
    assert mail_from == "bot@example.org"
    assert rcpts == ["ada@example.org", "bob@example.org", "carol@example.org", "dave@example.org"]
    assert message["Subject"] == "Report" and message["Cc"] == "carol@example.org"
    assert message["Bcc"] is None  # never leaks into headers
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "text/html" in parts and "text/plain" in parts
    attachment = next(p for p in message.walk() if p.get_filename() == "report.csv")
    assert attachment.get_payload(decode=True) == b"a,b\n1,2\n"


async def test_starttls_with_auth(
    registry: ToolRegistry, ctx: ExecutionContext, starttls_server: tuple[int, Mailbox]
) -> None:
    port, box = starttls_server
    params = {
        **BASE,
        "smtp_port": port,
        "to": "ada@example.org",
        "username": "bot",
        "password": "s3cret",
        "ca_file": "ca.pem",
    }
    envelope = await registry.invoke("email-sender", params, ctx)
    assert envelope["metadata"]["security"] == "starttls"
    assert str(box.envelopes[0][2].get_payload()).strip() == "All good."
    with pytest.raises(ToolError, match="authentication failed"):
        await registry.invoke("email-sender", {**params, "password": "wrong"}, ctx)
    with pytest.raises(ToolError, match="TLS"):  # the server's certificate is not trusted without ca_file
        await registry.invoke("email-sender", {k: v for k, v in params.items() if k != "ca_file"}, ctx)
    assert len(box.envelopes) == 1


async def test_implicit_ssl_from_configuration(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    ssl_server: tuple[int, Mailbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, box = ssl_server
    monkeypatch.setenv("LLMSPELL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LLMSPELL_SMTP_PORT", str(port))
    monkeypatch.setenv("LLMSPELL_SMTP_SECURITY", "ssl")
    monkeypatch.setenv("LLMSPELL_SMTP_FROM", "noreply@example.org")
    params = {"to": "ada@example.org", "subject": "s", "body": "b", "ca_file": "ca.pem"}
    envelope = await registry.invoke("email-sender", params, ctx)
    assert envelope["result"]["accepted"] == ["ada@example.org"]
    assert box.envelopes[0][0] == "noreply@example.org"


async def test_refusals(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, plain_server: tuple[int, Mailbox]
) -> None:
    port, box = plain_server
    base = {**BASE, "smtp_port": port, "security": "plain", "to": "ada@example.org"}
    closed = ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),)))
    with pytest.raises(SandboxViolation):
        await registry.invoke("email-sender", base, closed)
    with pytest.raises(SandboxViolation):
        await registry.invoke("email-sender", {**base, "smtp_host": "169.254.169.254"}, ctx)
    with pytest.raises(ValidationError, match="header injection"):
        await registry.invoke("email-sender", {**base, "subject": "hi\r\nBcc: victim@example.org"}, ctx)
    with pytest.raises(ValidationError, match="not an email address"):
        await registry.invoke("email-sender", {**base, "to": "nobody"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("email-sender", {**base, "attachments": ["/etc/passwd"]}, ctx)
    with pytest.raises(ValidationError, match="subject"):
        await registry.invoke("email-sender", {"to": "a@b.c", "body": "x"}, ctx)
    with pytest.raises(ConfigError, match="LLMSPELL_SMTP_HOST"):
        await registry.invoke("email-sender", {"to": "a@b.c", "subject": "s", "body": "x"}, ctx)
    with pytest.raises(ConfigError, match="plain connection"):
        await registry.invoke("email-sender", {**base, "smtp_host": "mail.example.org", "username": "u"}, ctx)
    with pytest.raises(ToolError, match="cannot reach"):
        await registry.invoke("email-sender", {**base, "smtp_port": free_port()}, ctx)
    assert box.envelopes == []
