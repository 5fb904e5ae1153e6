"""verify/repair: what a crash can leave behind is reported, and repaired to a clean report."""

from __future__ import annotations

import uuid

from s3saver import CheckpointMetadata, Config, repair, verify
from tests.helpers import all_keys, checkpoint, raw_client, s3_saver
from tests.s3env import Endpoint


async def _thread(saver, thread: str, n: int, run_id: str = "run-1") -> list[str]:  # type: ignore[no-untyped-def]
    ids, parent = [], None
    for step in range(n):
        cfg = await saver.put(
            checkpoint(step=step),
            CheckpointMetadata(step=step, run_id=run_id),
            Config(thread_id=thread, checkpoint_id=parent),
        )
        parent = cfg.checkpoint_id
        ids.append(cfg.checkpoint_id)
    return ids


async def test_clean_prefix_verifies_ok(endpoint: Endpoint, bucket: str) -> None:
    async with s3_saver(endpoint, bucket, "v") as saver:
        await _thread(saver, "a", 3)
        await _thread(saver, "a/b", 2)
        await saver.put_writes(
            "a",
            "",
            (await saver.get_tuple(Config("a"))).config.checkpoint_id,
            "t",
            "",
            [(0, "c", 1)],
        )  # type: ignore[union-attr]
        await saver.copy_thread("a", "copy")
        report = await verify(saver)
    assert report.ok, report.problems
    assert (report.threads, report.checkpoints, report.writes) == (3, 8, 2)
    assert report.index_entries == 5


async def test_crash_leftovers_are_reported_then_repaired(endpoint: Endpoint, bucket: str) -> None:
    prefix = f"v{uuid.uuid4().hex[:6]}"
    async with s3_saver(endpoint, bucket, prefix) as saver, raw_client(endpoint) as raw:
        ids = await _thread(saver, "t", 4)
        layout = saver.layout
        # a put killed between its two PUTs: checkpoint without index entry
        await raw.delete_object(Bucket=bucket, Key=layout.index_key(ids[0]))
        # a prune killed between data and index: index entry without checkpoint
        newest = await saver.get_tuple(Config("t"))
        assert newest is not None
        victim_key = next(
            k for k in await all_keys(raw, bucket, layout.thread_prefix("t")) if ids[1] in k
        )
        await raw.delete_object(Bucket=bucket, Key=victim_key)
        # writes left of a checkpoint that is gone while newer ones exist
        await raw.put_object(
            Bucket=bucket, Key=victim_key[: -len(".json")] + ".w/task.json", Body=b"{}"
        )
        # a delete_thread killed before its markers went: a remnant
        await _thread(saver, "gone", 1, run_id="run-9")
        for key in await all_keys(raw, bucket, layout.thread_prefix("gone")):
            if "~runs" not in key:
                await raw.delete_object(Bucket=bucket, Key=key)
        # a foreign object: reported, never touched
        foreign = layout.thread_prefix("t") + "notes.txt"
        await raw.put_object(Bucket=bucket, Key=foreign, Body=b"hello")

        report = await verify(saver)
        kinds = {p.kind for p in report.problems}
        assert kinds == {
            "unindexed-checkpoint",
            "dangling-index",
            "orphan-writes",
            "thread-remnant",
            "orphan-marker",
            "foreign-object",
        }, report.problems
        assert await saver.get(ids[0]) is None  # unreachable by id before the repair

        fixed = await repair(saver)
        assert [p.kind for p in fixed.problems] == ["foreign-object"]
        again = await verify(saver)
        assert [p.kind for p in again.problems] == ["foreign-object"]
        assert (await saver.get(ids[0])) is not None  # reachable by id again
        assert await saver.get(ids[1]) is None
        assert foreign in await all_keys(raw, bucket, layout.thread_prefix("t"))
        assert await all_keys(raw, bucket, layout.thread_prefix("gone")) == []
