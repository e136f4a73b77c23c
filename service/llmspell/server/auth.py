"""API-key authentication and scope checks, shared by REST and gRPC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import PermissionDenied, Unauthenticated
from ..storage.records import API_KEY_SCOPES

if TYPE_CHECKING:
    from ..storage.abc import Store

__all__ = ["ANONYMOUS", "SCOPES", "Authenticator", "Principal", "extract_key"]

# One list of scopes, kept with the API keys that carry them.
SCOPES = API_KEY_SCOPES


@dataclass(frozen=True, kw_only=True, slots=True)
class Principal:
    """Who is calling: an API key's id, name and scopes (``admin`` allows everything)."""

    key_id: str | None
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def require(self, scope: str) -> None:
        """Raise ``PermissionDenied`` unless the principal holds ``scope``."""
        if not self.allows(scope):
            raise PermissionDenied(f"this API key lacks the scope {scope!r}", details={"scope": scope})


ANONYMOUS = Principal(key_id=None, name="anonymous (no API keys configured)", scopes=frozenset({"admin"}))


def extract_key(authorization: str | None, api_key: str | None) -> str | None:
    """The raw key from ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    if api_key:
        return api_key.strip()
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


class Authenticator:
    """Checks keys against the store. With no active keys every caller is ``ANONYMOUS``
    (the daemon then binds to loopback only)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.enabled = False

    async def refresh(self) -> bool:
        """Re-read whether any key is active; returns ``enabled``."""
        self.enabled = await self._store.api_keys.any_active()
        return self.enabled

    async def authenticate(self, raw_key: str | None) -> Principal:
        """The principal for ``raw_key``; raises ``Unauthenticated`` when keys are on and it is
        missing or wrong."""
        if not self.enabled:
            if raw_key is None:
                return ANONYMOUS
            # A key sent to a keyless daemon may have just been created by another process.
            await self.refresh()
            if not self.enabled:
                return ANONYMOUS
        if raw_key is None:
            raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
        record = await self._store.api_keys.verify(raw_key)
        if record is None:
            raise Unauthenticated("invalid or revoked API key")
        return Principal(key_id=record.id, name=record.name, scopes=frozenset(record.scopes))
