"""email-sender: SMTP with STARTTLS, implicit TLS (SSL) or plain connections.

Settings come from the parameters, else from the environment: ``LLMSPELL_SMTP_HOST``,
``LLMSPELL_SMTP_PORT``, ``LLMSPELL_SMTP_SECURITY`` (starttls|ssl|plain),
``LLMSPELL_SMTP_USERNAME``, ``LLMSPELL_SMTP_PASSWORD``, ``LLMSPELL_SMTP_FROM``. The SMTP
host is checked against the sandbox network policy like any URL. ``smtplib`` runs in a
worker thread; its errors are translated here, once.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ConfigError, Timeout, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.sandbox import check_size, check_url, resolve_path

__all__ = ["EmailSenderTool", "SmtpSettings", "setting"]

_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "plain": 25}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def setting(params: dict[str, Any], key: str, env: str) -> Any:
    """A parameter, else the ``env`` environment variable, else None."""
    if params.get(key) not in (None, ""):
        return params[key]
    value = os.environ.get(env)
    return value if value else None


class SmtpSettings:
    """The effective SMTP connection settings of one call."""

    def __init__(self, params: dict[str, Any]) -> None:
        host = setting(params, "smtp_host", "LLMSPELL_SMTP_HOST")
        if not host:
            raise ConfigError("no SMTP server: pass smtp_host or set LLMSPELL_SMTP_HOST")
        self.host: str = host
        self.security: str = setting(params, "security", "LLMSPELL_SMTP_SECURITY") or "starttls"
        if self.security not in _DEFAULT_PORTS:
            raise ConfigError(f"LLMSPELL_SMTP_SECURITY={self.security!r}; use starttls, ssl or plain")
        port = setting(params, "smtp_port", "LLMSPELL_SMTP_PORT") or _DEFAULT_PORTS[self.security]
        try:
            self.port = int(port)
        except ValueError as exc:
            raise ConfigError(f"LLMSPELL_SMTP_PORT={port!r} is not a port number") from exc
        self.username: str | None = setting(params, "username", "LLMSPELL_SMTP_USERNAME")
        self.password: str | None = setting(params, "password", "LLMSPELL_SMTP_PASSWORD")
        self.verify_tls: bool = params.get("verify_tls", True)
        if self.username and self.security == "plain" and self.host not in _LOOPBACK:
            raise ConfigError(
                "refusing to send SMTP credentials over a plain connection; use starttls or ssl"
            )


def _check_header(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValidationError(
            f"{name} must not contain line breaks (header injection)", details={"field": name}
        )
    return value


def _addresses(field: str, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or [])
    out = []
    for raw in items:
        _check_header(field, raw)
        parsed = getaddresses([raw])
        if len(parsed) != 1 or "@" not in parsed[0][1]:
            raise ValidationError(f"{field}: {raw!r} is not an email address", details={"field": field})
        out.append(raw)
    return out


@contextmanager
def _smtp_errors(host: str, port: int) -> Iterator[None]:
    """Translate smtplib/ssl/socket errors into llmspell errors (the one boundary)."""
    try:
        yield
    except smtplib.SMTPAuthenticationError as exc:
        raise ToolError(
            "SMTP authentication failed; check username and password", details={"code": exc.smtp_code}
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        refused = sorted(exc.recipients)
        raise ToolError(
            f"SMTP server refused the recipients {refused}", details={"recipients": refused}
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise ToolError(f"SMTP server does not support this: {exc}; try another security mode") from exc
    except smtplib.SMTPException as exc:
        raise ToolError(f"SMTP error from {host}:{port}: {exc}") from exc
    except ssl.SSLError as exc:
        raise ToolError(
            f"TLS with {host}:{port} failed: {exc.reason or exc}; check security and verify_tls"
        ) from exc
    except TimeoutError as exc:
        raise Timeout(f"SMTP server {host}:{port} did not answer in time") from exc
    except OSError as exc:
        raise ToolError(f"cannot reach SMTP server {host}:{port}: {exc.strerror or exc}") from exc


class EmailSenderTool(BaseTool):
    """Send an email over SMTP (STARTTLS, SSL or plain), with optional authentication."""

    name = "email-sender"
    category = "communication"
    description = (
        "Send an email over SMTP (STARTTLS, SSL or plain). Server and credentials from the "
        "parameters or LLMSPELL_SMTP_* settings."
    )
    security_level = "privileged"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            "to": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
            },
            "cc": {"type": "array", "items": {"type": "string"}},
            "bcc": {"type": "array", "items": {"type": "string"}},
            "sender": {
                "type": "string",
                "minLength": 3,
                "description": "From address (or LLMSPELL_SMTP_FROM).",
            },
            "reply_to": {"type": "string"},
            "subject": {"type": "string", "maxLength": 998},
            "body": {"type": "string", "description": "Plain-text body."},
            "html": {"type": "string", "description": "Optional HTML alternative."},
            "attachments": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "maxItems": 20,
                "description": "Sandbox file paths to attach.",
            },
            "smtp_host": {"type": "string", "minLength": 1},
            "smtp_port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "security": {"enum": ["starttls", "ssl", "plain"]},
            "username": {"type": "string"},
            "password": {"type": "string"},
            "verify_tls": {"type": "boolean", "default": True},
            "ca_file": {"type": "string", "minLength": 1, "description": "Extra CA bundle (sandbox path)."},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 30},
        },
        "required": ["to", "subject", "body"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        smtp = SmtpSettings(params)
        shown = f"[{smtp.host}]" if ":" in smtp.host else smtp.host
        await check_url(f"http://{shown}:{smtp.port}/", ctx.policy)
        sender = setting(params, "sender", "LLMSPELL_SMTP_FROM")
        if not sender:
            raise ConfigError("no sender address: pass sender or set LLMSPELL_SMTP_FROM")
        message = EmailMessage()
        message["From"] = _addresses("sender", sender)[0]
        to = _addresses("to", params["to"])
        cc = _addresses("cc", params.get("cc"))
        bcc = _addresses("bcc", params.get("bcc"))
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        if "reply_to" in params:
            message["Reply-To"] = _addresses("reply_to", params["reply_to"])[0]
        message["Subject"] = _check_header("subject", params["subject"])
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        message.set_content(params["body"])
        if "html" in params:
            message.add_alternative(params["html"], subtype="html")
        for item in params.get("attachments", []):
            path = resolve_path(item, ctx.policy, must_exist=True)
            check_size(path.stat().st_size, ctx.policy)
            data = path.read_bytes()
            message.add_attachment(data, maintype="application", subtype="octet-stream", filename=path.name)
        ca_file = (
            str(resolve_path(params["ca_file"], ctx.policy, must_exist=True)) if "ca_file" in params else None
        )
        timeout = float(params.get("timeout_s", 30))
        recipients = [addr for _, addr in getaddresses(to + cc + bcc)]
        with _smtp_errors(smtp.host, smtp.port):
            refused = await asyncio.to_thread(_send, smtp, message, recipients, timeout, ca_file)
        accepted = [r for r in recipients if r not in refused]
        return ToolOutput(
            operation="send",
            result={"message_id": message["Message-ID"], "accepted": accepted, "refused": sorted(refused)},
            message=f"sent to {len(accepted)} recipient(s) via {smtp.host}:{smtp.port}",
            metadata={"security": smtp.security},
        )


def _tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _send(
    smtp: SmtpSettings, message: EmailMessage, recipients: list[str], timeout: float, ca_file: str | None
) -> dict[str, Any]:
    client: smtplib.SMTP
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=timeout, context=_tls_context(smtp.verify_tls, ca_file)
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=_tls_context(smtp.verify_tls, ca_file))
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        refused = client.send_message(message, to_addrs=recipients)
    return dict(refused)
