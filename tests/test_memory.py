"""The in-memory reference model on its own: what it shares with the S3 saver is tested in
test_store_contract.py; here, what is specific to keeping checkpoints in a process."""

from __future__ import annotations

from s3saver import CheckpointMetadata, Config, MemoryCheckpointSaver
from tests.helpers import checkpoint, put_many


async def test_context_manager_and_separate_instances() -> None:
    async with MemoryCheckpointSaver() as one:
        ids = await put_many(one, "t", 2)
        two = MemoryCheckpointSaver()
        assert await two.list(Config(thread_id="t")) == []
        assert await two.get(ids[0]) is None
        assert [t.checkpoint.id for t in await one.list(Config(thread_id="t"))] == ids[::-1]


async def test_stored_values_are_snapshots() -> None:
    """Mutating a value after put, or a value read back, never changes what is stored."""
    saver = MemoryCheckpointSaver()
    cp = checkpoint(items=[1, 2])
    meta = CheckpointMetadata(tags=["a"])
    cfg = await saver.put(cp, meta, Config(thread_id="t"))
    cp.channel_values["items"].append(3)
    meta.extra["tags"].append("b")
    got = await saver.get_tuple(cfg)
    assert got is not None
    assert got.checkpoint.channel_values == {"items": [1, 2]}
    assert got.metadata.extra == {"tags": ["a"]}
    got.checkpoint.channel_values["items"].clear()
    again = await saver.get(cp.id)
    assert again is not None and again.channel_values == {"items": [1, 2]}
