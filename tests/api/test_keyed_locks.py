"""Per-key locks: one holder per key at a time, other keys in parallel, no lock left behind."""

from __future__ import annotations

import anyio
import pytest

from services.api.keyed_locks import KeyedLocks
from tests.support import eventually

pytestmark = pytest.mark.anyio


async def test_one_holder_per_key_other_keys_in_parallel_and_unused_locks_go() -> None:
    locks = KeyedLocks()
    release = anyio.Event()
    entered: list[str] = []

    async def hold(key: str, name: str) -> None:
        async with locks(key):
            entered.append(name)
            await release.wait()

    async with anyio.create_task_group() as group:
        for key, name in [("k", "first"), ("k", "second"), ("other", "third")]:
            group.start_soon(hold, key, name)
        await eventually(lambda: len(entered) == 2)  # tasks start in order: "second" is waiting by now
        assert entered == ["first", "third"]  # "second" waits for "first" to let go of k
        assert len(locks) == 2
        release.set()
    assert entered == ["first", "third", "second"]
    assert len(locks) == 0


async def test_a_holder_that_fails_releases_its_lock() -> None:
    locks = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with locks("k"):
            raise RuntimeError("boom")
    with anyio.fail_after(1):
        async with locks("k"):
            pass
