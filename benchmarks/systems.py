"""One adapter per measured system, all with the same operations.

Every adapter runs inside a runner process (``benchmarks.runner``) in the system's own virtualenv
and imports only what that environment has. Each thread of the benchmark lives in its own
bucket (S3 systems), table (DynamoDB) or database file (SQLite): moto's LIST and Query scan the
whole bucket/table, so sharing one would make every system pay for the others' data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks import common
from benchmarks.capture import ClientPatch, Recorder
from benchmarks.counting import RequestCounter

REGION = "us-east-1"
LATEST_PAGE = 64  # LIST page size s3saver uses to find the newest checkpoint (and list(limit=10))
Op = Callable[[], Any]  # an async system's op returns an awaitable; a sync system's blocks


class NotSupported(Exception):
    """The system has no operation for this workload."""


def _s3_config(**extra: Any) -> Any:
    from botocore.config import Config

    return Config(
        max_pool_connections=64,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 3},
        **extra,
    )


class Thread:
    """One benchmark thread: its location, its saver and what the workloads need to know."""

    def __init__(self, key: str, thread_id: str, location: str) -> None:
        self.key = key
        self.thread_id = thread_id
        self.location = location  # bucket / table / db file
        self.saver: Any = None
        self.graph: Any = None
        self.ids: list[str] = []
        self.newest: str | None = None
        # (kind, object) whose methods are replaced while populating: "s3", "ddb" or "fs"
        self.fast_targets: list[tuple[str, Any]] = []


class System:
    name = "?"
    asynchronous = True
    supports_prune = False
    supports_graph = True
    requests_counted = True

    def __init__(self, endpoint: str, workdir: str) -> None:
        self.endpoint = endpoint
        self.workdir = workdir
        self.counter = RequestCounter()
        self.recorder = Recorder()
        self.template: dict[str, Any] = {}
        self.versions: dict[str, Any] = {}
        self.threads: dict[str, Thread] = {}

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        pass

    async def open_thread(self, key: str) -> Thread:
        raise NotImplementedError

    async def release(self, th: Thread) -> None:
        """Free what a thread's saver holds (called when the runner forgets the thread)."""

    # -- population ------------------------------------------------------------------------
    async def populate(self, th: Thread, n: int, *, capture: bool) -> None:
        """Write n checkpoints (+1 put_writes each) through the system's own API."""
        if not self.template:
            fn = getattr(th.saver, "get_next_version", None)
            self.template, self.versions = await asyncio.to_thread(common.template_checkpoint, fn)
        plan = list(common.populate_plan(th.thread_id, n))
        patch = ClientPatch(self.recorder)
        if capture:
            for kind, obj in th.fast_targets:
                {"s3": patch.s3_client, "ddb": patch.dynamodb_client, "fs": patch.fsspec}[kind](obj)
        try:
            if self.asynchronous:
                sem = asyncio.Semaphore(1 if not capture else 64)

                async def one(item: tuple[str, Any, Any, str, str]) -> None:
                    cid, cfg, md, task, _ = item
                    async with sem:
                        new_cfg = await th.saver.aput(
                            cfg, common.make_checkpoint(self.template, cid), md, self.versions
                        )
                        await th.saver.aput_writes(new_cfg, list(common.WRITES_PER_TASK), task)

                await asyncio.gather(*(one(item) for item in plan))
            else:
                from concurrent.futures import ThreadPoolExecutor

                def one_sync(item: tuple[str, Any, Any, str, str]) -> None:
                    cid, cfg, md, task, _ = item
                    new_cfg = th.saver.put(
                        cfg, common.make_checkpoint(self.template, cid), md, self.versions
                    )
                    th.saver.put_writes(new_cfg, list(common.WRITES_PER_TASK), task)

                def run() -> None:
                    with ThreadPoolExecutor(16 if capture else 1) as pool:
                        list(pool.map(one_sync, plan))

                await asyncio.to_thread(run)
        finally:
            patch.restore()
        th.ids = [p[0] for p in plan]
        th.newest = th.ids[-1] if th.ids else None

    def after_population(self, th: Thread) -> None:
        """Drop client-side caches that saw the fake (capture) responses."""

    # -- operations: each returns a zero-argument op ----------------------------------------
    def op(self, workload: str, th: Thread) -> Op:
        cfg_latest = common.config_for(th.thread_id)
        if workload == "resume":
            return self._call(th, "get_tuple", cfg_latest)
        if workload == "get":
            mid = th.ids[len(th.ids) // 2]
            return self._call(th, "get_tuple", common.config_for(th.thread_id, mid))
        if workload == "list":
            return self._list(th, None)
        if workload == "list_filter":
            return self._list(th, dict(common.FILTER))
        if workload == "put":
            return self._put(th)
        if workload == "put_writes":
            return self._put_writes(th)
        if workload == "delete_thread":
            return self._call(th, "delete_thread", th.thread_id)
        if workload == "prune":
            return self.prune_op(th)
        if workload == "graph":
            return self.graph_op(th, th.thread_id)
        raise ValueError(workload)

    def _call(self, th: Thread, method: str, *args: Any) -> Op:
        fn = getattr(th.saver, ("a" if self.asynchronous else "") + method)
        return lambda: fn(*args)

    def _list(self, th: Thread, flt: dict[str, Any] | None) -> Op:
        cfg = common.config_for(th.thread_id)
        saver = th.saver
        if self.asynchronous:

            async def alist() -> int:
                return len([t async for t in saver.alist(cfg, filter=flt, limit=10)])

            return alist
        return lambda: len(list(saver.list(cfg, filter=flt, limit=10)))

    def _put(self, th: Thread) -> Op:
        from langgraph.checkpoint.base.id import uuid6

        saver = th.saver

        def args() -> tuple[Any, Any, Any, Any]:
            cid = str(uuid6())
            step = len(th.ids)
            th.ids.append(cid)
            parent = th.newest
            th.newest = cid
            return (
                common.config_for(th.thread_id, parent),
                common.make_checkpoint(self.template, cid),
                common.make_metadata(step),
                self.versions,
            )

        if self.asynchronous:
            return lambda: saver.aput(*args())
        return lambda: saver.put(*args())

    def _put_writes(self, th: Thread) -> Op:
        saver = th.saver
        cfg = common.config_for(th.thread_id, th.newest)
        writes = list(common.WRITES_PER_TASK)
        if self.asynchronous:
            return lambda: saver.aput_writes(cfg, writes, f"bench-{uuid.uuid4().hex}")
        return lambda: saver.put_writes(cfg, writes, f"bench-{uuid.uuid4().hex}")

    def prune_op(self, th: Thread) -> Op:
        raise NotSupported("no way to keep only the newest N checkpoints of a thread")

    def graph_op(self, th: Thread, thread_id: str) -> Op:
        from langgraph.types import Command

        if th.graph is None:
            th.graph = common.build_graph().compile(checkpointer=th.saver)
        graph = th.graph
        cfg = common.config_for(thread_id)

        if self.asynchronous:

            async def run() -> Any:
                await graph.ainvoke(common.graph_input(), cfg)
                return await graph.ainvoke(Command(resume="ok"), cfg)

            return run

        def run_sync() -> Any:
            graph.invoke(common.graph_input(), cfg)
            return graph.invoke(Command(resume="ok"), cfg)

        return run_sync

    # -- sanity check ----------------------------------------------------------------------
    async def verify(self, th: Thread) -> dict[str, Any]:
        """Read the thread back through the real server: newest id, its writes, a list page."""
        cfg = common.config_for(th.thread_id)
        if self.asynchronous:
            tup = await th.saver.aget_tuple(cfg)
            listed = [t async for t in th.saver.alist(cfg, limit=10)]
        else:
            tup = await asyncio.to_thread(th.saver.get_tuple, cfg)
            listed = await asyncio.to_thread(lambda: list(th.saver.list(cfg, limit=10)))
        got = tup.config["configurable"]["checkpoint_id"] if tup else None
        ok = (
            got == th.newest
            and tup is not None
            and len(tup.pending_writes or []) == len(common.WRITES_PER_TASK)
            and len(listed) == min(10, len(th.ids))
        )
        if not ok:
            raise RuntimeError(
                f"{self.name}: thread {th.key} reads back wrong: newest {got} (want {th.newest}),"
                f" {len(tup.pending_writes or []) if tup else 0} writes, {len(listed)} listed"
            )
        return {"newest": got}


# ---------------------------------------------------------------------------------------------
# S3 helpers shared by the floor and s3saver


async def _make_bucket(client: Any, bucket: str) -> None:
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        await client.create_bucket(Bucket=bucket)


def bucket_name(prefix: str, key: str) -> str:
    return f"{prefix}-{key}".lower().replace("_", "-")[:63]


class _AioS3Mixin:
    endpoint: str
    counter: RequestCounter
    recorder: Recorder

    async def _start_client(self) -> Any:
        from contextlib import AsyncExitStack

        import aioboto3

        self._stack = AsyncExitStack()
        session = aioboto3.Session()
        client = await self._stack.enter_async_context(
            session.client(
                "s3", endpoint_url=self.endpoint, region_name=REGION, config=_s3_config()
            )
        )
        self.counter.attach(client)
        self.client = client
        return client


# ---------------------------------------------------------------------------------------------
# The floor: raw aioboto3, the fewest requests and round trips for each operation.


def _invert(checkpoint_id: str) -> str:
    """Newest first in S3's byte order: every hex digit d -> f - d (dashes kept)."""
    return checkpoint_id.translate(_INVERT)


_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")


class FloorSaver:
    """Just enough of a checkpointer to time the floor of each operation.

    Layout (newest first, each checkpoint followed by its writes in one listing)::

        t/<thread>/c/<inverted id>              checkpoint + metadata + parent id
        t/<thread>/c/<inverted id>.w/<task id>   one put_writes call (all of a task's writes)

    Serialization uses LangGraph's own serde, as a saver must. It implements the subset of the
    LangGraph API the workloads call, so the same workload code drives it.
    """

    def __init__(self, client: Any, bucket: str) -> None:
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        self.client = client
        self.bucket = bucket
        self.serde = JsonPlusSerializer()

    def _prefix(self, thread_id: str) -> str:
        return f"t/{thread_id}/c/"

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, versions: Any) -> Any:
        import ormsgpack

        c = config["configurable"]
        body = ormsgpack.packb(
            {
                "cp": self.serde.dumps_typed(checkpoint),
                "md": metadata,
                "parent": c.get("checkpoint_id"),
            }
        )
        key = self._prefix(c["thread_id"]) + _invert(checkpoint["id"])
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
        return common.config_for(c["thread_id"], checkpoint["id"])

    async def aput_writes(
        self, config: Any, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        import ormsgpack

        c = config["configurable"]
        body = ormsgpack.packb(
            {
                "path": task_path,
                "w": [(i, ch, *self.serde.dumps_typed(v)) for i, (ch, v) in enumerate(writes)],
            }
        )
        key = f"{self._prefix(c['thread_id'])}{_invert(c['checkpoint_id'])}.w/{task_id}"
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    async def _get(self, key: str) -> bytes:
        r = await self.client.get_object(Bucket=self.bucket, Key=key)
        async with r["Body"] as body:
            return bytes(await body.read())

    async def _list_page(self, prefix: str, max_keys: int, token: str | None = None) -> Any:
        kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if token:
            kw["ContinuationToken"] = token
        return await self.client.list_objects_v2(**kw)

    def _tuple(self, thread_id: str, cp_raw: bytes, writes_raw: list[tuple[str, bytes]]) -> Any:
        import ormsgpack
        from langgraph.checkpoint.base import CheckpointTuple

        d = ormsgpack.unpackb(cp_raw)
        checkpoint = self.serde.loads_typed(tuple(d["cp"]))
        pending = []
        for task_id, raw in sorted(writes_raw):
            w = ormsgpack.unpackb(raw)
            for _idx, ch, tag, data in w["w"]:
                pending.append((task_id, ch, self.serde.loads_typed((tag, data))))
        parent = d["parent"]
        return CheckpointTuple(
            config=common.config_for(thread_id, checkpoint["id"]),
            checkpoint=checkpoint,
            metadata=d["md"],
            parent_config=common.config_for(thread_id, parent) if parent else None,
            pending_writes=pending,
        )

    @staticmethod
    def _group(keys: list[str]) -> list[tuple[str, list[str]]]:
        """[(checkpoint key, [its writes keys])] in listing (newest-first) order."""
        out: list[tuple[str, list[str]]] = []
        for k in keys:
            if ".w/" in k.rsplit("/c/", 1)[-1]:
                if out and k.startswith(out[-1][0] + ".w/"):
                    out[-1][1].append(k)
            else:
                out.append((k, []))
        return out

    async def _read_groups(self, thread_id: str, groups: list[tuple[str, list[str]]]) -> list[Any]:
        flat = [k for cp, ws in groups for k in (cp, *ws)]
        raws = await asyncio.gather(*(self._get(k) for k in flat))
        by_key = dict(zip(flat, raws, strict=True))
        return [
            self._tuple(thread_id, by_key[cp], [(w.rsplit("/", 1)[-1], by_key[w]) for w in ws])
            for cp, ws in groups
        ]

    async def _pages(self, prefix: str, page_size: int) -> Any:
        """LIST pages, the next one requested while the caller works on the current one."""
        nxt: asyncio.Future[Any] = asyncio.ensure_future(self._list_page(prefix, page_size))
        while True:
            page = await nxt
            token = page.get("NextContinuationToken")
            if token:
                nxt = asyncio.ensure_future(self._list_page(prefix, page_size, token))
            keys = [o["Key"] for o in page.get("Contents", [])]
            try:
                yield keys
            except GeneratorExit:
                if token:
                    nxt.cancel()
                raise
            if not token:
                return

    async def aget_tuple(self, config: Any) -> Any:
        c = config["configurable"]
        thread_id = c["thread_id"]
        prefix = self._prefix(thread_id)
        cid = c.get("checkpoint_id")
        if cid is None:
            page = await self._list_page(prefix, LATEST_PAGE)
            groups = self._group([o["Key"] for o in page.get("Contents", [])])
            if not groups:
                return None
            return (await self._read_groups(thread_id, groups[:1]))[0]
        key = prefix + _invert(cid)
        raw, page = await asyncio.gather(self._get(key), self._list_page(key + ".w/", 1000))
        wkeys = [o["Key"] for o in page.get("Contents", [])]
        wraws = await asyncio.gather(*(self._get(k) for k in wkeys))
        return self._tuple(
            thread_id, raw, [(k.rsplit("/", 1)[-1], r) for k, r in zip(wkeys, wraws, strict=True)]
        )

    async def alist(self, config: Any, *, filter: Any = None, limit: int | None = None) -> Any:
        import ormsgpack

        thread_id = config["configurable"]["thread_id"]
        want = limit or 10**9
        page_size = min(1000, max(LATEST_PAGE, want * 4 + 8))
        found: list[tuple[str, list[str]]] = []
        async for keys in self._pages(self._prefix(thread_id), page_size):
            groups = self._group(keys)
            if not filter:
                found.extend(groups[: want - len(found)])
            else:
                raws = await asyncio.gather(*(self._get(cp) for cp, _ in groups))
                for g, raw in zip(groups, raws, strict=True):
                    md = ormsgpack.unpackb(raw)["md"]
                    if all(md.get(k) == v for k, v in filter.items()) and len(found) < want:
                        found.append(g)
            if len(found) >= want:
                break
        for t in await self._read_groups(thread_id, found):
            yield t

    async def _delete_keys(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            r = await self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if r.get("Errors"):
                raise RuntimeError(f"DeleteObjects errors: {r['Errors'][:3]}")

    async def _sweep(self, thread_id: str, keep: int) -> None:
        """List page by page; delete each page (beyond the newest `keep` checkpoints) while the
        next page is being listed: pages + 1 sequential round trips, page-sized memory."""
        prefix = self._prefix(thread_id)
        token: str | None = None
        kept = 0
        pending: asyncio.Task[None] | None = None
        while True:
            page = await self._list_page(prefix, 1000, token)
            doomed = []
            for o in page.get("Contents", []):
                k = o["Key"]
                if ".w/" not in k[len(prefix) :]:
                    kept += 1
                if kept > keep:
                    doomed.append(k)
            if pending is not None:
                await pending
                pending = None
            if doomed:
                pending = asyncio.ensure_future(self._delete_keys(doomed))
            token = page.get("NextContinuationToken")
            if not token:
                break
        if pending is not None:
            await pending

    async def adelete_thread(self, thread_id: str) -> None:
        await self._sweep(thread_id, 0)

    async def aprune_keep(self, thread_id: str, keep: int) -> None:
        await self._sweep(thread_id, keep)


class FloorSystem(_AioS3Mixin, System):
    name = "floor"
    supports_prune = True
    supports_graph = False

    async def start(self) -> dict[str, Any]:
        await self._start_client()
        import aioboto3

        return {"package": f"aioboto3 {aioboto3.__version__}"}

    async def close(self) -> None:
        await self._stack.aclose()

    async def open_thread(self, key: str) -> Thread:
        bucket = bucket_name("floor", key)
        await _make_bucket(self.client, bucket)
        th = Thread(key, f"th-{key}", bucket)
        th.saver = FloorSaver(self.client, bucket)
        th.fast_targets.append(("s3", self.client))
        return th

    def prune_op(self, th: Thread) -> Op:
        return lambda: th.saver.aprune_keep(th.thread_id, 10)

    def graph_op(self, th: Thread, thread_id: str) -> Op:
        raise NotSupported("the floor is not a LangGraph checkpointer")


# ---------------------------------------------------------------------------------------------
# s3saver


class S3SaverAsyncSystem(_AioS3Mixin, System):
    name = "s3saver-async"
    supports_prune = True

    async def start(self) -> dict[str, Any]:
        from s3saver.langgraph import AsyncS3Saver  # noqa: F401  (fails clearly if missing)

        await self._start_client()
        import s3saver

        return {"package": f"s3saver {getattr(s3saver, '__version__', '?')}"}

    async def close(self) -> None:
        for th in self.threads.values():
            aexit = getattr(th.saver, "__aexit__", None)
            if aexit is not None:
                await aexit(None, None, None)
        await self._stack.aclose()

    async def open_thread(self, key: str) -> Thread:
        from s3saver.langgraph import AsyncS3Saver

        bucket = bucket_name("s3saver", key)
        await _make_bucket(self.client, bucket)
        th = Thread(key, f"th-{key}", bucket)
        th.saver = await AsyncS3Saver(bucket, client=self.client).__aenter__()
        th.fast_targets.append(("s3", self.client))
        return th

    def prune_op(self, th: Thread) -> Op:
        store = th.saver.store
        # The store's prune(keep=10): LangGraph's aprune only has keep_latest (= keep 1 per ns).
        return lambda: store.prune(th.thread_id, keep=10)


class S3SaverSyncSystem(System):
    """The sync twin, driven from worker threads as LangGraph does. It runs every call on its own
    loop thread with its own client; the counters are hooked on that client."""

    name = "s3saver-sync"
    asynchronous = False
    supports_prune = True

    async def start(self) -> dict[str, Any]:
        import s3saver
        from s3saver.langgraph import S3Saver  # noqa: F401

        return {"package": f"s3saver {getattr(s3saver, '__version__', '?')}"}

    async def close(self) -> None:
        for th in self.threads.values():
            await self.release(th)

    async def release(self, th: Thread) -> None:
        await asyncio.to_thread(th.saver.close)

    async def open_thread(self, key: str) -> Thread:
        from s3saver.langgraph import S3Saver

        bucket = bucket_name("s3sync", key)
        th = Thread(key, f"th-{key}", bucket)

        def make() -> Any:
            import boto3

            boto3.client(
                "s3", endpoint_url=self.endpoint, region_name=REGION, config=_s3_config()
            ).create_bucket(Bucket=bucket)
            saver = S3Saver(bucket, endpoint_url=self.endpoint, region_name=REGION)
            saver.__enter__()
            return saver

        th.saver = await asyncio.to_thread(make)
        clients = [c for c, _ in th.saver.store.transport._clients.values()]
        if not clients:
            raise RuntimeError("could not find S3Saver's client to count its requests")
        for client in clients:
            self.counter.attach(client)
            th.fast_targets.append(("s3", client))
        return th

    def prune_op(self, th: Thread) -> Op:
        saver = th.saver
        # The store's prune(keep=10) on the saver's own loop thread (LangGraph's prune API only
        # has keep_latest = keep 1 per namespace).
        return lambda: saver._runner.run(saver.store.prune(th.thread_id, keep=10))


# ---------------------------------------------------------------------------------------------
# Peers


class ObjectStorageSystem(System):
    name = "objectstorage"

    async def start(self) -> dict[str, Any]:
        import s3fs

        self.fs = s3fs.S3FileSystem(
            asynchronous=True,
            endpoint_url=self.endpoint,
            key=os.environ["AWS_ACCESS_KEY_ID"],
            secret=os.environ["AWS_SECRET_ACCESS_KEY"],
            client_kwargs={"region_name": REGION},
            config_kwargs={"max_pool_connections": 64},
            skip_instance_cache=True,
        )
        await self.fs.set_session()
        self.counter.attach(self.fs.s3)
        from importlib.metadata import version

        return {
            "package": "langgraph-checkpoint-objectstorage "
            + version("langgraph-checkpoint-objectstorage")
            + f", s3fs {s3fs.__version__}"
        }

    async def close(self) -> None:
        s3 = getattr(self.fs, "_s3", None)
        if s3 is not None:
            await s3.__aexit__(None, None, None)

    async def open_thread(self, key: str) -> Thread:
        from langgraph_checkpoint_objectstorage import ObjectStorageSaver

        bucket = bucket_name("objst", key)
        try:
            await self.fs.s3.create_bucket(Bucket=bucket)
        except Exception as e:
            if "BucketAlreadyOwnedByYou" not in str(e):
                raise
        th = Thread(key, f"th-{key}", bucket)
        th.saver = ObjectStorageSaver(self.fs, f"{bucket}/cp")
        th.fast_targets.append(("fs", self.fs))
        return th

    def after_population(self, th: Thread) -> None:
        self.fs.invalidate_cache()


class DynamoDBSystem(System):
    name = "dynamodb"
    asynchronous = True  # its a-methods run the sync ones in a thread pool

    async def start(self) -> dict[str, Any]:
        from importlib.metadata import version

        import boto3

        self.admin = boto3.client("dynamodb", endpoint_url=self.endpoint, region_name=REGION)
        return {
            "package": f"langgraph-checkpoint-aws {version('langgraph-checkpoint-aws')}, "
            f"boto3 {boto3.__version__}"
        }

    async def open_thread(self, key: str) -> Thread:
        from langgraph_checkpoint_aws import DynamoDBSaver

        table = bucket_name("ddb", key)

        def make() -> Any:
            with contextlib.suppress(self.admin.exceptions.ResourceInUseException):
                self.admin.create_table(
                    TableName=table,
                    KeySchema=[
                        {"AttributeName": "PK", "KeyType": "HASH"},
                        {"AttributeName": "SK", "KeyType": "RANGE"},
                    ],
                    AttributeDefinitions=[
                        {"AttributeName": "PK", "AttributeType": "S"},
                        {"AttributeName": "SK", "AttributeType": "S"},
                    ],
                    BillingMode="PAY_PER_REQUEST",
                )
            return DynamoDBSaver(table, region_name=REGION, endpoint_url=self.endpoint)

        th = Thread(key, f"th-{key}", table)
        th.saver = await asyncio.to_thread(make)
        self.counter.attach(th.saver.client)
        th.fast_targets.append(("ddb", th.saver.client))
        return th


class SqliteSystem(System):
    name = "sqlite"
    requests_counted = False

    async def start(self) -> dict[str, Any]:
        from contextlib import AsyncExitStack
        from importlib.metadata import version

        self._stack = AsyncExitStack()
        return {"package": f"langgraph-checkpoint-sqlite {version('langgraph-checkpoint-sqlite')}"}

    async def close(self) -> None:
        await self._stack.aclose()

    async def open_thread(self, key: str) -> Thread:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = os.path.join(self.workdir, f"sqlite-{key}.db")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)
        th = Thread(key, f"th-{key}", path)
        th.saver = await self._stack.enter_async_context(AsyncSqliteSaver.from_conn_string(path))
        await th.saver.setup()
        return th

    async def populate(self, th: Thread, n: int, *, capture: bool) -> None:
        # Local: no network to skip. One transaction for speed; same rows as aput/aput_writes.
        await super().populate(th, n, capture=False)


SYSTEMS: dict[str, type[System]] = {
    "s3saver-async": S3SaverAsyncSystem,
    "s3saver-sync": S3SaverSyncSystem,
    "floor": FloorSystem,
    "objectstorage": ObjectStorageSystem,
    "dynamodb": DynamoDBSystem,
    "sqlite": SqliteSystem,
}
