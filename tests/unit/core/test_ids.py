"""Ids: UUID version 7 text, time-ordered across milliseconds, unique across threads and forks."""

from __future__ import annotations

import os
import threading
import time
import uuid

from llmspell.core.ids import new_id, uuid7


def test_ids_are_uuid7_hex_and_ordered_by_time() -> None:
    first = new_id()
    time.sleep(0.002)
    later = new_id()
    for text in (first, later):
        parsed = uuid.UUID(hex=text)
        assert len(text) == 32 and parsed.hex == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert first < later
    assert uuid7().version == 7
    millis = int(uuid.UUID(hex=later).int >> 80)
    assert abs(millis - time.time_ns() // 1_000_000) < 5_000


def test_ids_are_unique_across_threads_and_many_blocks() -> None:
    seen: list[list[str]] = []

    def draw() -> None:
        seen.append([new_id() for _ in range(5_000)])  # several random blocks per thread

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for batch in seen for i in batch]
    assert len(set(ids)) == len(ids) == 20_000


def test_a_forked_child_draws_other_random_bits() -> None:
    new_id()  # this process has a block in use
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = new_id()
    assert child != parent
    assert child[13:] != parent[13:]  # not the same random bits (time bits may match)
