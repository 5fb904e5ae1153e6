"""Model-based reliability tests (issue 6): hypothesis-generated sequences of operations run on
``S3CheckpointSaver`` *through the fault proxy* and on ``MemoryCheckpointSaver``.

After every step, a reader (a second saver, straight to the store, no faults) must see what the
model sees, for the touched thread and the touched id; at the end of each sequence, every
thread, namespace and id, and ``verify`` must be clean.

With faults on (docs/reliability.md, "What a failed operation may leave"):

* an operation that returned is durable: the reader sees its effect;
* after an operation that raised, the reader sees the state before it or the state after it
  (``put``/``put_writes``), or, for the deleting operations, the state before minus some of the
  checkpoints the operation removes and never one it keeps; never anything else (no
  checkpoint listed but unreachable by id, no half merge, no duplicate);
* the interrupted operation is then redone (as a caller would retry it) and the state must be
  exactly the model's: a retry never duplicates nor reorders.

The proxy works in front of any HTTP endpoint, so this runs unchanged on Ceph RGW.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    Config,
    MemoryCheckpointSaver,
    S3CheckpointSaver,
    S3SaverError,
    repair,
    verify,
)
from s3saver.base import CheckpointStore
from s3saver.ids import new_checkpoint_id, time_order_key
from tests import reliability
from tests.faultproxy import FaultPlan, FaultProxy, ProxyStats
from tests.helpers import create_bucket, s3_saver, shared_session, unique_prefix
from tests.s3env import Endpoint
from tests.test_store_contract import observe

THREADS = ["t", "t/1", "ü x"]
SPACES = ["", "sub"]
NAMED = ["n1", "n/2"]
RUNS = ["r1", "r2"]

READS = ("get_tuple", "list", "get")
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
if os.environ.get("S3SAVER_SHRINK"):
    PHASES = (*PHASES, Phase.shrink)


@pytest.fixture(scope="module")
async def model_bucket(endpoint: Endpoint) -> str:
    return await create_bucket(endpoint)


@pytest.fixture
def tally(pytestconfig: pytest.Config) -> reliability.Tally:
    return reliability.tally(pytestconfig)


# ------------------------------------------------------------------------------ operations
@dataclass(frozen=True)
class Op:
    kind: str  # put | writes | get_tuple | list | get | prune | delete | runs
    thread: str = "t"
    ns: str = ""
    pick: int = 0  # which id: index into the ids seen so far (or a named id)
    fresh: bool = True  # put: a new time-ordered id (else a named or an earlier id)
    named: bool = False
    keep: int = 1
    limit: int | None = None
    run: str | None = None
    task: str = "task0"


thread_st = st.sampled_from(THREADS)
ns_st = st.sampled_from(SPACES)
put_st = st.builds(
    Op,
    kind=st.just("put"),
    thread=thread_st,
    ns=ns_st,
    pick=st.integers(0, 20),
    fresh=st.sampled_from([True, True, False]),
    named=st.booleans(),
    run=st.sampled_from([None, *RUNS]),
)
op_st = st.one_of(
    put_st,
    put_st,
    put_st,
    st.builds(
        Op,
        kind=st.just("writes"),
        thread=thread_st,
        ns=ns_st,
        pick=st.integers(0, 20),
        task=st.sampled_from(["task0", "task1"]),
    ),
    st.builds(Op, kind=st.just("get_tuple"), thread=thread_st, ns=ns_st, pick=st.integers(-3, 20)),
    st.builds(
        Op,
        kind=st.just("list"),
        thread=thread_st,
        ns=ns_st,
        pick=st.integers(-3, 20),
        limit=st.sampled_from([None, 1, 2]),
    ),
    st.builds(Op, kind=st.just("get"), pick=st.integers(0, 20)),
    st.builds(Op, kind=st.just("prune"), thread=thread_st, keep=st.integers(0, 3)),
    st.builds(Op, kind=st.just("delete"), thread=thread_st),
    st.builds(Op, kind=st.just("runs"), run=st.sampled_from(RUNS)),
)


@dataclass
class Run:
    """One sequence: the saver under test (faulted), a clean reader, the model."""

    s3: S3CheckpointSaver
    reader: S3CheckpointSaver
    model: MemoryCheckpointSaver
    tally: reliability.Tally
    seen: list[str] = field(default_factory=list)  # ids put so far (oldest first)
    step: int = 0
    log: list[str] = field(default_factory=list)

    def id_for(self, op: Op) -> str | None:
        if op.kind == "put":
            if op.named:
                return NAMED[op.pick % len(NAMED)]
            if op.fresh or not self.seen:
                return new_checkpoint_id()
        pool = self.seen
        if not pool or op.pick < 0:
            return None
        return pool[op.pick % len(pool)]


async def apply(saver: CheckpointStore, op: Op, cid: str | None, step: int) -> Any:
    """Run one operation; returns what the caller observes."""
    if op.kind == "put":
        assert cid is not None
        cp = Checkpoint(id=cid, ts=f"step {step}", channel_values={"step": step})
        meta = CheckpointMetadata(source="loop", step=step, run_id=op.run)
        return await saver.put(cp, meta, Config(op.thread, None, op.ns))
    if op.kind == "writes":
        assert cid is not None
        await saver.put_writes(
            op.thread, op.ns, cid, op.task, "", [(0, "c", step), (-1, "e", step)]
        )
        return None
    if op.kind == "get_tuple":
        return observe(await saver.get_tuple(Config(op.thread, cid, op.ns)))
    if op.kind == "list":
        return [observe(t) for t in await saver.list(Config(op.thread, cid, op.ns), op.limit)]
    if op.kind == "get":
        got = await saver.get(cid) if cid is not None else None
        return None if got is None else got.to_json()
    if op.kind == "prune":
        return await saver.prune(op.thread, op.keep)
    if op.kind == "delete":
        await saver.delete_thread(op.thread)
        return None
    if op.kind == "runs":
        assert op.run is not None
        await saver.delete_for_runs([op.run])
        return None
    raise AssertionError(op)


def touched(op: Op) -> list[str]:
    return THREADS if op.kind == "runs" else [op.thread]


async def look(saver: CheckpointStore, threads: list[str], ids: list[str]) -> dict[str, Any]:
    """What a reader sees of these threads (every namespace) and ids (reads run together)."""

    async def listing(tid: str, ns: str) -> tuple[str, Any]:
        listed = await saver.list(Config(thread_id=tid, checkpoint_ns=ns))
        return f"list {tid!r} {ns!r}", [observe(t) for t in listed]

    async def by_id(cid: str) -> tuple[str, Any]:
        got = await saver.get(cid)
        return f"get {cid}", None if got is None else got.to_json()

    parts = [listing(tid, ns) for tid in threads for ns in SPACES] + [by_id(c) for c in ids]
    return dict(await asyncio.gather(*parts))


def is_partial_delete(
    actual: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> bool:
    """Each listing is ``before`` minus some of what ``after`` lacks; ids agree with either."""
    for key, now in actual.items():
        if key.startswith("get "):
            if now not in (before[key], after[key]):
                return False
            continue
        kept = {e["config"]: e for e in after[key]}
        had = [e for e in before[key]]
        # in order, a sub-list of `before` that contains everything `after` keeps
        ids_now = [e["config"] for e in now]
        if ids_now != [e["config"] for e in had if e["config"] in set(ids_now)]:
            return False
        if not set(kept) <= set(ids_now):
            return False
        by_id = {e["config"]: e for e in had}
        if any(e != by_id[e["config"]] for e in now):
            return False
    return True


class UndoWatch(logging.Handler):
    """Notes the saver's warning that it could not undo a failed put."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        if "could not undo" in record.getMessage():
            self.seen = True

    def __enter__(self) -> UndoWatch:
        logging.getLogger("s3saver").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("s3saver").removeHandler(self)


async def step(run: Run, op: Op) -> None:
    run.step += 1
    if op.kind == "writes":
        # Pending writes go to a checkpoint the model has stored, as LangGraph sends them.
        # (Writes for an id not stored in that thread are accepted by both savers, but verify
        # counts them as orphans once a newer checkpoint exists, and for ids without time the
        # S3 store needs the checkpoint first.)
        stored = [
            (tid, ns, cid)
            for tid, thread in sorted(run.model._threads.items())
            for ns, cps in sorted(thread.namespaces.items())
            for cid in sorted(cps)
            if time_order_key(cid) is not None
        ]
        if not stored:
            return
        tid, ns, cid = stored[op.pick % len(stored)]
        op = dataclasses.replace(op, thread=tid, ns=ns)
    else:
        cid = run.id_for(op)
    run.log.append(f"{run.step}: {op} id={cid}")
    threads = touched(op)
    ids = [cid] if cid is not None else []
    expected_model = copy.deepcopy(run.model)
    expected = await apply(expected_model, op, cid, run.step)
    undo_failed = UndoWatch()
    try:
        with undo_failed:
            got = await apply(run.s3, op, cid, run.step)
    except S3SaverError as exc:
        run.tally.op(op.kind, ok=False)
        run.log.append(f"   raised {type(exc).__name__}: {exc}")
        before = await look(run.model, threads, ids)
        after = await look(expected_model, threads, ids)
        actual = await look(run.reader, threads, ids)
        if op.kind in ("prune", "delete", "runs"):
            assert is_partial_delete(actual, before, after), (
                "a failed delete left a state that is not a partial deletion",
                run.log,
                actual,
                before,
            )
        elif undo_failed.seen:
            # The put failed and so did its undo (two failures in one call): what is left is
            # what a crash leaves, a checkpoint not yet indexed; repair must fix it.
            run.tally.checks["undo failed (warning logged), left to repair"] += 1
            await repair(run.reader)
            actual = await look(run.reader, threads, ids)
            assert actual in (before, after), (run.log, actual, before, after)
        else:
            assert actual in (before, after), (
                f"after a failed {op.kind}, readers see neither the state before nor after",
                run.log,
                actual,
                before,
                after,
            )
        if op.kind in ("put", "writes", "prune", "delete", "runs"):
            # the caller retries the failed call (here without faults): exactly the model after
            await apply(run.reader, op, cid, run.step)
            run.tally.checks["redone after an error"] += 1
    else:
        run.tally.op(op.kind, ok=True)
        assert got == expected, (f"{op.kind} answered differently", run.log, got, expected)
    run.model = expected_model
    if op.kind == "put" and cid is not None and cid not in run.seen:
        run.seen.append(cid)
    if op.kind in READS:
        return  # a read changes nothing; its answer was compared with the model's above
    actual = await look(run.reader, threads, ids)
    model_view = await look(run.model, threads, ids)
    if actual != model_view:
        run.tally.lost += sum(
            1 for k, v in model_view.items() if k.startswith("list") and len(actual[k]) < len(v)
        )
    assert actual == model_view, ("reader and model disagree", run.log, actual, model_view)


async def finish(run: Run, faults: bool) -> None:
    """Every thread, namespace and id agrees; verify is clean (after repair, with faults)."""
    actual = await look(run.reader, THREADS, run.seen)
    assert actual == await look(run.model, THREADS, run.seen), run.log
    report = await verify(run.reader)
    for p in report.problems:
        run.tally.problems_found[p.kind] += 1
    if faults:
        # A failed delete may leave index entries and markers behind (hints that read as
        # absent); repair removes them and nothing else is allowed.
        assert all(p.repairable for p in report.problems), report.problems
        fixed = await repair(run.reader)
        assert fixed.ok, fixed.problems
        report = await verify(run.reader)
    run.tally.problems_left += len(report.problems)
    assert report.ok, (report.problems, run.log)
    assert await look(run.reader, THREADS, run.seen) == actual, "repair changed what readers see"


RETRIED = FaultPlan(
    slowdown=0.04,
    internal_error=0.04,
    reset_before=0.04,
    reset_after=0.06,
    lost_response=0.02,
    latency=0.03,
    latency_s=0.05,
    lost_response_hang_s=5,
    max_faults=40,
)
"""Every kind of fault, botocore's retries on (4 attempts): every operation should succeed."""
UNRETRIED = FaultPlan(
    slowdown=0.05,
    internal_error=0.05,
    reset_before=0.06,
    reset_after=0.08,
    lost_response=float(os.environ.get("S3SAVER_UNRETRIED_LOST", "0.01")),
    latency=0.02,
    latency_s=0.05,
    lost_response_hang_s=5,
    max_faults=60,
)
"""No retries (1 attempt): about one request in four fails, so many operations raise. Lost
responses cost the 1 s read timeout each, so they are rare here (S3SAVER_UNRETRIED_LOST raises
them); test_reliability_lost_response and test_reliability_two_faults aim them at each PUT."""
READ_TIMEOUT = {"retried": 1.0, "unretried": 1.0 if UNRETRIED.lost_response else 5.0, "none": 5.0}
"""Seconds before a lost response counts as lost. Short where retries absorb a slow answer
taken for a lost one (moto answers in 20-400 ms here); long without retries, where a spurious
timeout would be an unplanned fault."""
EXAMPLES = int(os.environ.get("S3SAVER_MODEL_EXAMPLES", "0"))
COMMON = dict(
    deadline=None,
    derandomize=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""Bounded and reproducible: the same sequences on every run (no shrinking unless
S3SAVER_SHRINK is set: each step costs real requests)."""
ops_st = st.lists(op_st, min_size=8, max_size=18)


async def run_sequence(
    endpoint: Endpoint,
    bucket: str,
    tally: reliability.Tally,
    name: str,
    plan: FaultPlan,
    attempts: int,
    ops: list[Op],
    seed: int,
) -> ProxyStats:
    prefix = unique_prefix(f"model-{name}")
    async with FaultProxy(endpoint.url, seed=seed, faults=plan, lifetime_s=120) as proxy:
        s3 = S3CheckpointSaver(
            bucket,
            prefix,
            endpoint_url=proxy.url,
            region_name=endpoint.region,
            session=shared_session(),
            max_attempts=attempts,
            read_timeout=READ_TIMEOUT[name],
            connect_timeout=2,
            check_store=False,
        )
        await reliability.checked_like(s3, endpoint, bucket)
        reader = s3_saver(endpoint, bucket, prefix)
        async with s3, reader:
            run = Run(s3, reader, MemoryCheckpointSaver(), tally)
            for op in ops:
                await step(run, op)
            await finish(run, faults=plan != FaultPlan())
    tally.add_proxy(proxy.stats)
    return proxy.stats


@settings(max_examples=EXAMPLES or 3, **COMMON)
@given(ops=ops_st, seed=st.integers(0, 2**16))
async def test_without_faults_s3_agrees_with_the_model_after_every_step(
    endpoint: Endpoint, model_bucket: str, tally: reliability.Tally, ops: list[Op], seed: int
) -> None:
    stats = await run_sequence(endpoint, model_bucket, tally, "none", FaultPlan(), 3, ops, seed)
    assert stats.total_faults == 0 and stats.requests > 0  # everything went through the proxy


@settings(max_examples=EXAMPLES or 4, **COMMON)
@given(ops=ops_st, seed=st.integers(0, 2**16))
async def test_with_retried_faults_every_operation_succeeds_and_is_durable(
    endpoint: Endpoint, model_bucket: str, tally: reliability.Tally, ops: list[Op], seed: int
) -> None:
    before = sum(tally.raised.values())
    stats = await run_sequence(endpoint, model_bucket, tally, "retried", RETRIED, 4, ops, seed)
    assert sum(tally.raised.values()) == before, "an operation failed despite 4 attempts"
    tally.checks["retried-fault sequences"] += 1
    del stats


@settings(max_examples=EXAMPLES or 6, **COMMON)
@given(ops=ops_st, seed=st.integers(0, 2**16))
async def test_with_unretried_faults_failed_operations_leave_before_or_after(
    endpoint: Endpoint, model_bucket: str, tally: reliability.Tally, ops: list[Op], seed: int
) -> None:
    stats = await run_sequence(endpoint, model_bucket, tally, "unretried", UNRETRIED, 1, ops, seed)
    tally.checks["unretried-fault sequences"] += 1
    del stats
