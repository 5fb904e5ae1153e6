"""Two faults in one ``put`` (issue 6): the checkpoint PUT commits and its answer is lost, and
the index PUT fails outright. The caller gets an error; readers must still see the whole
checkpoint or nothing of it.

Two fault proxies in a chain (each forwards the Host header unchanged, so signatures stay
valid): the outer one loses the answer of the checkpoint PUT, the inner one answers the index
PUT with a 500. Works in front of any HTTP endpoint.
"""

from __future__ import annotations

from s3saver import Checkpoint, CheckpointMetadata, Config, S3CheckpointSaver, S3SaverError
from tests import reliability
from tests.faultproxy import FaultPlan, FaultProxy
from tests.helpers import s3_saver, shared_session, unique_prefix
from tests.s3env import Endpoint


async def test_lost_checkpoint_answer_and_failed_index_leave_all_or_nothing(
    endpoint: Endpoint, bucket: str
) -> None:
    prefix = unique_prefix("two-faults")
    index_fails = FaultPlan(
        internal_error=1.0, operations={"PutObject"}, key_contains="index/", max_faults=1
    )
    answer_lost = FaultPlan(
        lost_response=1.0, operations={"PutObject"}, key_contains="threads/", max_faults=1
    )
    cp = Checkpoint()
    async with (
        s3_saver(endpoint, bucket, prefix) as reader,
        FaultProxy(endpoint.url, seed=1, faults=index_fails, lifetime_s=60) as inner,
        FaultProxy(inner.url, seed=1, faults=answer_lost, lifetime_s=60) as outer,
    ):
        saver = S3CheckpointSaver(
            bucket,
            prefix,
            endpoint_url=outer.url,
            region_name=endpoint.region,
            session=shared_session(),
            max_attempts=1,
            read_timeout=1.0,
            check_store=False,
        )
        await reliability.checked_like(saver, endpoint, bucket)
        async with saver:
            try:
                await saver.put(cp, CheckpointMetadata(), Config("t"))
                ok = True
            except S3SaverError:
                ok = False
        assert outer.stats.faults["lost_response"] == 1
        assert inner.stats.faults["internal_error"] == 1
        listed = [t.checkpoint.id for t in await reader.list(Config("t"))]
        by_id = await reader.get(cp.id)
        if ok:
            assert listed == [cp.id] and by_id is not None
        else:
            assert (listed, by_id is not None) in (([cp.id], True), ([], False)), (
                "listed but not reachable by id" if listed else "reachable but not listed"
            )
