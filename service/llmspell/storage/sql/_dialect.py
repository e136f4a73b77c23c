"""What differs between the SQL backends, behind one small interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Select, Table

from ._async import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from ._wal import WalCheckpointer

__all__ = ["Dialect"]


class Dialect(ABC):
    """Engine set-up and the few statements that differ per database."""

    name: str
    #: True when the database allows one writer at a time (the store then queues writes
    #: in-process instead of letting connections spin on the database lock).
    single_writer: bool = False

    @abstractmethod
    def create_engine(self, url: str) -> AsyncEngine:
        """An engine for ``url`` with this backend's connection set-up."""

    def create_inline_engines(self, url: str) -> tuple[Engine, Engine] | None:
        """Synchronous engines for :meth:`Database.run` on an embedded database: one used on
        the event loop's thread (it must never wait for a lock) and one for a worker thread
        (it may); None when the backend has none (network databases)."""
        return None

    def start_checkpoints(self, url: str) -> WalCheckpointer | None:
        """A running thread that checkpoints an embedded database's log; None when the
        backend needs none (network databases)."""
        return None

    @abstractmethod
    def insert(self, table: Table) -> Any:
        """An INSERT that supports ``on_conflict_do_nothing(index_elements=...)``."""

    @abstractmethod
    def lock_rows(self, query: Select[Any]) -> Select[Any]:
        """``query`` locking the rows it reads until the transaction ends (``FOR UPDATE``)."""

    @abstractmethod
    def lock_queued(self, query: Select[Any]) -> Select[Any]:
        """``query`` selecting queued runs to claim, made safe against concurrent claimers."""

    @abstractmethod
    async def lock_key(self, connection: AsyncConnection, key: str) -> None:
        """Hold a lock named ``key`` until the current transaction ends (serialises writers
        that derive a value from existing rows, like the next script version)."""

    def lock_key_sync(self, connection: Connection, key: str) -> None:
        """:meth:`lock_key` inside a :meth:`Database.run` transaction body."""
        return None

    @abstractmethod
    def lock_for_migration(self, connection: Connection) -> None:
        """Serialise concurrent migrations of the same database (inside the transaction)."""
