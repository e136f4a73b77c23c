"""Checkpoints of a SQLite write-ahead log, off the event loop.

By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: the
committing connection copies ~4 MB into the database file and syncs it. The store commits
on the event loop's thread (``Database.run``), so under load that stalled every request in
flight for 5-15 ms about once a second. The store's connections turn automatic
checkpoints off (``PRAGMA wal_autocheckpoint=0``) and this thread checkpoints instead.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["WalCheckpointer"]

log = logging.getLogger(__name__)


class WalCheckpointer:
    """A daemon thread running a PASSIVE checkpoint of ``path`` every ``period_s``.

    PASSIVE never waits for readers or writers: it copies what it can, and the next pass
    goes on from there. The log restarts from its beginning once a pass copied all of it.
    """

    def __init__(self, path: Path, period_s: float = 1.0) -> None:
        self.path = path
        self.period_s = period_s
        #: (log frames, frames copied) of the last pass that ran.
        self.last: tuple[int, int] = (0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="llmspell-sqlite-checkpoint", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (the last connection to close checkpoints what is left)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=0, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            log.warning("no WAL checkpoints for %s: %s", self.path, exc)
            return
        try:
            while not self._stop.wait(self.period_s):
                self.checkpoint(connection)
        finally:
            connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            _busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # e.g. another process is checkpointing: next pass
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
            return
        self.last = (frames, copied)
