"""A write that commits while its answer is lost (issue 6): the caller sees an error, or success,
but readers must then see the whole checkpoint (listed *and* reachable by id) or nothing of it.

The fault proxy forwards the chosen PUT to the store and then never answers; the saver's read
timeout fires. With retries (``max_attempts`` > 1) the retried conditional PUT gets 412 and the
writer nonce proves the object is ours; when every attempt loses its answer, the put raises.
``reset_after`` (committed, then the connection is reset) is aiohttp's own resend territory.
Works in front of any HTTP endpoint.
"""

from __future__ import annotations

import pytest

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    Config,
    S3CheckpointSaver,
    S3SaverError,
    repair,
    verify,
)
from tests import reliability
from tests.faultproxy import FaultPlan, FaultProxy
from tests.helpers import s3_saver, shared_session, unique_prefix
from tests.s3env import Endpoint


@pytest.fixture
def tally(pytestconfig: pytest.Config) -> reliability.Tally:
    return reliability.tally(pytestconfig)


CASES = [
    # (fault, which PUT: substring of its key, attempts, faults in a row)
    ("lost_response", "threads/", 1, 1),  # the checkpoint PUT commits, its answer is lost
    ("lost_response", "threads/", 3, 1),  # ... once, then the retry finds our own object
    ("lost_response", "index/", 1, 1),  # the index PUT commits, its answer is lost
    ("reset_after", "threads/", 1, 1),  # committed, then RST: aiohttp resends the PUT itself
]


@pytest.mark.parametrize(("fault", "target", "attempts", "times"), CASES)
@pytest.mark.parametrize("replace", [False, True], ids=["new", "replace"])
async def test_a_put_whose_answer_is_lost_leaves_all_or_nothing(
    endpoint: Endpoint,
    bucket: str,
    tally: reliability.Tally,
    fault: str,
    target: str,
    attempts: int,
    times: int,
    replace: bool,
) -> None:
    prefix = unique_prefix("lost")
    plan = FaultPlan(
        **{fault: 1.0},
        operations={"PutObject"},
        key_contains=target,
        max_faults=times,
        lost_response_hang_s=5,
    )
    thread = Config(thread_id="t")
    old = Checkpoint(channel_values={"v": "old"})
    new = Checkpoint(id=old.id, channel_values={"v": "new"}) if replace else Checkpoint()
    async with s3_saver(endpoint, bucket, prefix) as reader:
        if replace:
            await reader.put(old, CheckpointMetadata(step=0), thread)
        async with FaultProxy(endpoint.url, seed=7, faults=plan, lifetime_s=60) as proxy:
            saver = S3CheckpointSaver(
                bucket,
                prefix,
                endpoint_url=proxy.url,
                region_name=endpoint.region,
                session=shared_session(),
                max_attempts=attempts,
                read_timeout=1.0,
                connect_timeout=2,
                check_store=False,
            )
            await reliability.checked_like(saver, endpoint, bucket)
            async with saver:
                try:
                    await saver.put(new, CheckpointMetadata(step=1), thread)
                    ok = True
                except S3SaverError:
                    ok = False
        tally.add_proxy(proxy.stats)
        tally.op("put", ok)
        assert proxy.stats.faults[fault] == times, proxy.stats.as_dict()

        listed = [(t.checkpoint.id, t.checkpoint.channel_values) for t in await reader.list(thread)]
        by_id = await reader.get(new.id)
        by_id_view = None if by_id is None else (by_id.id, by_id.channel_values)
        after = (new.id, new.channel_values)
        before_list = [(old.id, old.channel_values)] if replace else []
        before_id = before_list[0] if replace else None
        if ok:
            assert listed == [after] and by_id_view == after, "acknowledged but not durable"
        else:
            assert (listed, by_id_view) in (([after], after), (before_list, before_id)), (
                "after a failed put readers see a partial state",
                listed,
                by_id_view,
            )
        # A caller retries a failed put; either way the thread then holds it exactly once.
        await reader.put(new, CheckpointMetadata(step=1), thread)
        listed = [(t.checkpoint.id, t.checkpoint.channel_values) for t in await reader.list(thread)]
        assert listed == [after]
        report = await verify(reader)
        for p in report.problems:
            tally.problems_found[p.kind] += 1
        if report.problems:
            assert all(p.repairable for p in report.problems), report.problems
            assert (await repair(reader)).ok
        assert (await verify(reader)).ok
