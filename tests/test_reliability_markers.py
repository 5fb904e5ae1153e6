"""Markers written by one saver and deleted by another (issue 6, races between processes).

Every process has its own saver; one deletes a thread while another keeps writing to it. A
hashed thread's ``~thread.json`` (which ``list(None)`` and ``repair`` need) must exist for what
the writer puts afterwards. (Run markers cached by the writer are a documented limitation:
docs/design.md, docs/reliability.md.) Works on any endpoint.
"""

from __future__ import annotations

from s3saver import Checkpoint, CheckpointMetadata, Config, repair, verify
from tests.helpers import s3_saver, unique_prefix
from tests.s3env import Endpoint


async def test_hashed_thread_name_survives_a_delete_by_another_saver(
    endpoint: Endpoint, bucket: str
) -> None:
    prefix = unique_prefix("markers")
    thread = "x" * 500  # its key segment is a hash; the name lives in ~thread.json
    writer = s3_saver(endpoint, bucket, prefix)
    other = s3_saver(endpoint, bucket, prefix)
    async with writer, other:
        await writer.put(Checkpoint(), CheckpointMetadata(), Config(thread))
        await other.delete_thread(thread)
        cp = Checkpoint()
        await writer.put(cp, CheckpointMetadata(), Config(thread))
        every = [(r.thread_id, r.checkpoint_id) async for r in other.iter_records(None, None)]
        assert every == [(thread, cp.id)], "list(None) lost the thread"
        assert (await verify(other)).ok
        assert (await repair(other)).ok
