"""What goes wrong around the store: missing bucket, no connection, no permission, damaged or
foreign objects under the prefix, values that cannot be stored. Every failure must be an
``S3SaverError`` naming bucket and operation (and key where there is one), never a botocore
exception."""

from __future__ import annotations

import json
import logging
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import orjson
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from s3saver import (
    AccessDenied,
    BucketNotFound,
    CheckpointMetadata,
    Config,
    CorruptObject,
    EncodingError,
    EndpointUnreachable,
    S3CheckpointSaver,
    S3SaverError,
    StorageError,
)
from s3saver.ids import new_checkpoint_id, time_order_key
from s3saver.layout import Layout
from tests.helpers import (
    RequestCounter,
    all_keys,
    checkpoint,
    create_bucket,
    put_many,
    raw_client,
    s3_saver,
    unique_prefix,
)
from tests.s3env import Endpoint, MotoProcess, free_port

META = CheckpointMetadata


def storage_calls(saver: S3CheckpointSaver) -> list[tuple[str, set[str], Awaitable[Any]]]:
    """(label, operations the error may name, call) for every operation of the contract."""
    cid = new_checkpoint_id()
    return [
        ("put", {"PutObject"}, saver.put(checkpoint(cid), META(), Config(thread_id="t"))),
        ("put_writes", {"PutObject"}, saver.put_writes("t", "", cid, "task", "", [(0, "c", 1)])),
        ("get_tuple", {"ListObjectsV2"}, saver.get_tuple(Config(thread_id="t"))),
        (
            "get_tuple(id)",
            {"GetObject", "ListObjectsV2"},
            saver.get_tuple(Config(thread_id="t", checkpoint_id=cid)),
        ),
        ("list", {"ListObjectsV2"}, saver.list(Config(thread_id="t"))),
        ("get", {"GetObject"}, saver.get(cid)),
        ("delete_thread", {"ListObjectsV2", "DeleteObjects"}, saver.delete_thread("t")),
        ("prune", {"ListObjectsV2", "DeleteObjects"}, saver.prune("t", 1)),
    ]


def assert_named(exc: StorageError, bucket: str, operations: set[str], label: str) -> None:
    assert isinstance(exc, S3SaverError), label
    assert not isinstance(exc, (BotoCoreError, ClientError)), label
    assert exc.bucket == bucket, label
    assert exc.operation in operations, (label, exc.operation)
    text = str(exc)
    assert bucket in text and exc.operation in text, (label, text)


# ------------------------------------------------------------------------------ missing bucket
async def test_missing_bucket_is_named(endpoint: Endpoint) -> None:
    name = f"s3saver-never-created-{uuid.uuid4().hex[:12]}"
    # Opening checks the store first, and already says what is wrong.
    with pytest.raises(BucketNotFound) as at_open:
        async with s3_saver(endpoint, name, "p"):
            pass
    assert_named(at_open.value, name, {"PutObject", "ListObjectsV2", "HeadBucket"}, "open")
    # Every operation of a saver that skipped the check says so too.
    saver = s3_saver(endpoint, name, "p", check_store=False)
    try:
        for label, operations, call in storage_calls(saver):
            with pytest.raises(BucketNotFound) as info:
                await call
            assert_named(info.value, name, operations, label)
            assert "does not exist" in str(info.value)
    finally:
        await saver.close()


# ------------------------------------------------------------------------------ no connection
def unreachable_saver(**options: Any) -> S3CheckpointSaver:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    options.setdefault("max_attempts", 1)
    return S3CheckpointSaver("some-bucket", endpoint_url=url, region_name="us-east-1", **options)


async def test_unreachable_endpoint_is_named() -> None:
    with pytest.raises(EndpointUnreachable) as at_open:
        async with unreachable_saver():
            pass
    assert_named(at_open.value, "some-bucket", {"PutObject", "ListObjectsV2"}, "open")
    saver = unreachable_saver(check_store=False)
    try:
        for label, operations, call in storage_calls(saver):
            with pytest.raises(EndpointUnreachable) as info:
                await call
            assert_named(info.value, "some-bucket", operations, label)
    finally:
        await saver.close()


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_max_attempts_is_the_total_number_of_attempts(attempts: int) -> None:
    saver = unreachable_saver(max_attempts=attempts, check_store=False)
    counter = RequestCounter().attach_saver(saver)
    try:
        with pytest.raises(EndpointUnreachable):
            await saver.get_tuple(Config(thread_id="t"))
    finally:
        await saver.close()
    assert counter.snapshot().requests == attempts


# ------------------------------------------------------------------------------ no permission
@dataclass
class LockedBucket:
    server: MotoProcess
    bucket: str
    keys: dict[str, tuple[str, str]]  # user -> (access key id, secret)
    checkpoint_id: str


def _reset_auth(url: str, count: str) -> None:
    req = urllib.request.Request(f"{url}/moto-api/reset-auth", data=count.encode(), method="POST")
    req.add_header("Content-Type", "text/plain")  # without it moto cannot read the body
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["status"] == "ok"


@pytest.fixture(scope="module")
def moto_with_auth() -> Iterator[MotoProcess]:
    """A private moto server (whatever endpoint the suite runs on): authorization is switched
    on there, never on the shared one."""
    server = MotoProcess()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def locked(moto_with_auth: MotoProcess) -> AsyncIterator[LockedBucket]:
    """A bucket with one checkpoint; users that may only list it, or nothing at all.

    moto does not evaluate bucket policies, but it does evaluate IAM user policies once
    authorization is on, which gives the real S3 AccessDenied answers.
    """
    url = moto_with_auth.url
    bucket = f"locked-{uuid.uuid4().hex[:12]}"
    session = aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    keys: dict[str, tuple[str, str]] = {}
    async with session.client("iam", endpoint_url=url) as iam:
        for user, actions in (("lister", ["s3:ListBucket"]), ("nobody", [])):
            await iam.create_user(UserName=user)
            if actions:
                policy = {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
                }
                await iam.put_user_policy(
                    UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy)
                )
            made = (await iam.create_access_key(UserName=user))["AccessKey"]
            keys[user] = (made["AccessKeyId"], made["SecretAccessKey"])
    async with session.client("s3", endpoint_url=url) as s3:
        await s3.create_bucket(Bucket=bucket)
    admin = S3CheckpointSaver(bucket, "p", session=session, endpoint_url=url)
    async with admin:
        cfg = await admin.put(checkpoint(x=1), META(), Config(thread_id="t"))
    assert cfg.checkpoint_id is not None
    _reset_auth(url, "0")  # from now on every request is authorized against IAM
    try:
        yield LockedBucket(moto_with_auth, bucket, keys, cfg.checkpoint_id)
    finally:
        _reset_auth(url, "inf")


def _saver_as(locked: LockedBucket, access_key: str, secret: str) -> S3CheckpointSaver:
    session = aioboto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret, region_name="us-east-1"
    )
    return S3CheckpointSaver(
        locked.bucket, "p", session=session, endpoint_url=locked.server.url, max_attempts=1
    )


async def test_access_denied_is_named_for_every_operation(locked: LockedBucket) -> None:
    async with _saver_as(locked, *locked.keys["nobody"]) as saver:
        for label, operations, call in storage_calls(saver):
            with pytest.raises(AccessDenied) as info:
                await call
            assert_named(info.value, locked.bucket, operations, label)
            assert "denied" in str(info.value).lower()


async def test_access_denied_on_read_names_the_key(locked: LockedBucket) -> None:
    """Allowed to list but not to read: the error names the object that could not be read."""
    async with _saver_as(locked, *locked.keys["lister"]) as saver:
        assert await saver.list(Config(thread_id="nobody-here")) == []
        with pytest.raises(AccessDenied) as info:
            await saver.get_tuple(Config(thread_id="t"))
        exc = info.value
        assert_named(exc, locked.bucket, {"GetObject"}, "get_tuple")
        assert exc.key is not None and locked.checkpoint_id in exc.key
        assert exc.key in str(exc)
        with pytest.raises(AccessDenied) as put_info:
            await saver.put(checkpoint(), META(), Config(thread_id="t"))
        assert put_info.value.operation == "PutObject"


async def test_unknown_credentials_on_the_test_endpoint(endpoint: Endpoint, bucket: str) -> None:
    """Against a real S3 implementation (RGW, AWS) unknown credentials are refused too."""
    if endpoint.is_moto:
        pytest.skip("the shared moto server accepts any credentials (see the private one above)")
    session = aioboto3.Session(
        aws_access_key_id="AKIAUNKNOWNKEY000000",
        aws_secret_access_key="wrong-secret",
        region_name=endpoint.region,
    )
    saver = S3CheckpointSaver(
        bucket, "p", session=session, endpoint_url=endpoint.url, max_attempts=1
    )
    try:
        with pytest.raises(AccessDenied) as info:
            await saver.list(Config(thread_id="t"))
        assert_named(info.value, bucket, {"ListObjectsV2"}, "list")
    finally:
        await saver.close()


async def test_unknown_credentials_are_access_denied(locked: LockedBucket) -> None:
    async with _saver_as(locked, "AKIAUNKNOWNKEY000000", "wrong-secret") as saver:
        with pytest.raises(AccessDenied) as info:
            await saver.list(Config(thread_id="t"))
        assert_named(info.value, locked.bucket, {"ListObjectsV2"}, "list")


# ------------------------------------------------------------------------------ damaged objects
@pytest.fixture(scope="module")
async def module_bucket(endpoint: Endpoint) -> str:
    return await create_bucket(endpoint)


@pytest.fixture
async def saver(endpoint: Endpoint, module_bucket: str) -> AsyncIterator[S3CheckpointSaver]:
    async with s3_saver(endpoint, module_bucket, unique_prefix("faults")) as s:
        yield s


def checkpoint_key(saver: S3CheckpointSaver, thread: str, cid: str, ns: str = "") -> str:
    order = time_order_key(cid)
    assert order is not None
    return Layout.checkpoint_key(saver.layout.stem(thread, ns, order, cid))


async def write_raw(endpoint: Endpoint, bucket: str, key: str, body: bytes) -> None:
    async with raw_client(endpoint) as client:
        await client.put_object(Bucket=bucket, Key=key, Body=body)


async def read_raw(endpoint: Endpoint, bucket: str, key: str) -> bytes:
    async with raw_client(endpoint) as client:
        resp = await client.get_object(Bucket=bucket, Key=key)
        async with resp["Body"] as stream:
            data: bytes = await stream.read()
            return data


CORRUPT_BODIES: dict[str, bytes] = {
    "not-json": b"\x00\xffnot json at all{",
    "empty": b"",
    "json-array": b"[1, 2, 3]",
    "foreign-json": b'{"hello": "world"}',
    "newer-format": b'{"format": 99, "kind": "checkpoint"}',
    "wrong-kind": b'{"format": 1, "kind": "index", "id": "x", "thread_id": "t", "key": "k"}',
    "missing-fields": b'{"format": 1, "kind": "checkpoint"}',
    "truncated": b'{"format":1,"kind":"checkpoint","metadata":{"source":"inp',
}


@pytest.mark.parametrize("kind", list(CORRUPT_BODIES))
async def test_corrupt_checkpoint_object(
    saver: S3CheckpointSaver,
    endpoint: Endpoint,
    module_bucket: str,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    ids = await put_many(saver, "t", 3)
    bad = new_checkpoint_id()  # the newest of the thread, and damaged
    key = checkpoint_key(saver, "t", bad)
    await write_raw(endpoint, module_bucket, key, CORRUPT_BODIES[kind])

    with pytest.raises(CorruptObject) as info:
        await saver.get_tuple(Config(thread_id="t", checkpoint_id=bad))
    assert info.value.key == key and key in str(info.value)
    assert isinstance(info.value, S3SaverError)
    with pytest.raises(CorruptObject) as newest:
        await saver.get_tuple(Config(thread_id="t"))
    assert newest.value.key == key

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="s3saver"):
        listed = await saver.list(Config(thread_id="t"))
    assert [t.checkpoint.id for t in listed] == ids[::-1]
    assert any(key in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # Older checkpoints stay readable one by one, and deleting the thread removes all.
    older = await saver.get_tuple(Config(thread_id="t", checkpoint_id=ids[0]))
    assert older is not None and older.checkpoint.id == ids[0]
    await saver.delete_thread("t")
    assert await saver.get_tuple(Config(thread_id="t")) is None
    async with raw_client(endpoint) as client:
        assert await all_keys(client, module_bucket, saver.layout.thread_prefix("t")) == []


async def test_checkpoint_body_under_another_id_is_reported(
    saver: S3CheckpointSaver, endpoint: Endpoint, module_bucket: str
) -> None:
    """A valid body copied to another checkpoint's key is not silently read as that one."""
    (real,) = await put_many(saver, "t", 1)
    body = await read_raw(endpoint, module_bucket, checkpoint_key(saver, "t", real))
    other = new_checkpoint_id()
    key = checkpoint_key(saver, "t", other)
    await write_raw(endpoint, module_bucket, key, body)
    with pytest.raises(CorruptObject) as info:
        await saver.get_tuple(Config(thread_id="t", checkpoint_id=other))
    assert info.value.key == key


FOREIGN_SUFFIXES = [
    "README.txt",
    "notes/readme.md",
    "zzz",
    "ns/",
    "ns/x",
    "0123-short.json",
    "g" * 32 + "-x.json",
    "f" * 32 + "-x.json.bak",
    "f" * 32 + "-x.w/task.txt",
    "f" * 32 + "-.json",
]


async def test_foreign_objects_are_skipped_with_a_warning(
    saver: S3CheckpointSaver,
    endpoint: Endpoint,
    module_bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await put_many(saver, "t", 3)
    sub = await put_many(saver, "t", 2, checkpoint_ns="sub")
    tprefix = saver.layout.thread_prefix("t")
    foreign = [tprefix + suffix for suffix in FOREIGN_SUFFIXES]
    foreign.append(saver.layout.ns_prefix("t", "sub") + "stray.json")
    for key in foreign:
        await write_raw(endpoint, module_bucket, key, b"not ours")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="s3saver"):
        listed = await saver.list(Config(thread_id="t"))
        listed_sub = await saver.list(Config(thread_id="t", checkpoint_ns="sub"))
    assert [t.checkpoint.id for t in listed] == ids[::-1]
    assert [t.checkpoint.id for t in listed_sub] == sub[::-1]
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert tprefix + "README.txt" in warned
    newest = await saver.get_tuple(Config(thread_id="t"))
    assert newest is not None and newest.checkpoint.id == ids[-1]
    newest_sub = await saver.get_tuple(Config(thread_id="t", checkpoint_ns="sub"))
    assert newest_sub is not None and newest_sub.checkpoint.id == sub[-1]
    assert await saver.prune("t", 1) == 3
    assert [t.checkpoint.id for t in await saver.list(Config(thread_id="t"))] == [ids[-1]]
    # Deleting the thread removes whatever lies under its prefix, foreign objects included.
    await saver.delete_thread("t")
    async with raw_client(endpoint) as client:
        assert await all_keys(client, module_bucket, tprefix) == []


async def test_corrupt_pending_writes_object(
    saver: S3CheckpointSaver,
    endpoint: Endpoint,
    module_bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await put_many(saver, "t", 2)
    await saver.put_writes("t", "", ids[-1], "good", "", [(0, "c", 1)])
    order = time_order_key(ids[-1])
    assert order is not None
    stem = saver.layout.stem("t", "", order, ids[-1])
    key = Layout.write_key(stem, "bad-task")
    await write_raw(endpoint, module_bucket, key, b'{"format": 1, "kind": "writes"}')
    with pytest.raises(CorruptObject) as info:
        await saver.get_tuple(Config(thread_id="t", checkpoint_id=ids[-1]))
    assert info.value.key == key
    with pytest.raises(CorruptObject):
        await saver.get_tuple(Config(thread_id="t"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="s3saver"):
        listed = await saver.list(Config(thread_id="t"))
    assert ids[0] in [t.checkpoint.id for t in listed]
    assert any(key in r.getMessage() for r in caplog.records)


async def test_corrupt_index_object_reads_as_absent_with_a_warning(
    saver: S3CheckpointSaver,
    endpoint: Endpoint,
    module_bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (cid,) = await put_many(saver, "t", 1)
    ikey = saver.layout.index_key(cid)
    await write_raw(endpoint, module_bucket, ikey, b"garbage")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="s3saver"):
        assert await saver.get(cid) is None
    assert any(ikey in r.getMessage() for r in caplog.records)
    # The checkpoint itself is untouched, and a new put of the id repairs the index.
    got = await saver.get_tuple(Config(thread_id="t", checkpoint_id=cid))
    assert got is not None
    await saver.put(got.checkpoint, got.metadata, Config(thread_id="t"))
    repaired = await saver.get(cid)
    assert repaired is not None and repaired.id == cid


async def test_a_limit_counts_only_readable_checkpoints(
    saver: S3CheckpointSaver, endpoint: Endpoint, module_bucket: str
) -> None:
    ids = await put_many(saver, "t", 4)
    for cid in ids[-2:]:  # the two newest are damaged
        await write_raw(endpoint, module_bucket, checkpoint_key(saver, "t", cid), b"junk")
    listed = await saver.list(Config(thread_id="t"), limit=2)
    assert [t.checkpoint.id for t in listed] == [ids[1], ids[0]]


async def test_an_index_entry_pointing_nowhere_reads_as_absent(
    saver: S3CheckpointSaver, endpoint: Endpoint, module_bucket: str
) -> None:
    """What a crash between deleting data and deleting its index entry leaves behind."""
    ids = await put_many(saver, "t", 2)
    async with raw_client(endpoint) as client:
        await client.delete_object(Bucket=module_bucket, Key=checkpoint_key(saver, "t", ids[1]))
        assert await all_keys(client, module_bucket, saver.layout.index_key(ids[1]))
    assert await saver.get(ids[1]) is None
    assert await saver.get_tuple(Config(thread_id="t", checkpoint_id=ids[1])) is None
    newest = await saver.get_tuple(Config(thread_id="t"))
    assert newest is not None and newest.checkpoint.id == ids[0]
    # Putting the id again makes it whole.
    await saver.put(checkpoint(ids[1], again=True), META(), Config(thread_id="t"))
    got = await saver.get(ids[1])
    assert got is not None and got.channel_values == {"again": True}


# ------------------------------------------------------------------------------ nothing written
async def test_unencodable_value_sends_no_request(
    saver: S3CheckpointSaver, endpoint: Endpoint, module_bucket: str
) -> None:
    (existing,) = await put_many(saver, "t", 1)
    counter = RequestCounter().attach_saver(saver)
    async with raw_client(endpoint) as client:
        before = await all_keys(client, module_bucket, saver.prefix)
    cases: list[tuple[str, Awaitable[Any]]] = [
        ("channel", saver.put(checkpoint(v={1, 2}), META(), Config(thread_id="t"))),
        ("metadata", saver.put(checkpoint(), META(v=b"x"), Config(thread_id="t2"))),
        ("versions", saver.put(checkpoint(v=2**70), META(), Config(thread_id="t3"))),
        ("writes", saver.put_writes("t", "", existing, "task", "", [(0, "c", object())])),
        ("writes-key", saver.put_writes("t", "", existing, "task", "", [(0, "c", {1: 2})])),
    ]
    for label, call in cases:
        counter.reset()
        with pytest.raises(EncodingError):
            await call
        assert counter.snapshot().requests == 0, label
    async with raw_client(endpoint) as client:
        assert await all_keys(client, module_bucket, saver.prefix) == before


async def test_stored_bodies_are_plain_json(
    saver: S3CheckpointSaver, endpoint: Endpoint, module_bucket: str
) -> None:
    """Objects are JSON an operator can read with any tool, naming their id and content."""
    cfg = await saver.put(checkpoint(msg="héllo"), META(step=3), Config(thread_id="t"))
    assert cfg.checkpoint_id is not None
    body = orjson.loads(
        await read_raw(endpoint, module_bucket, checkpoint_key(saver, "t", cfg.checkpoint_id))
    )
    assert body["id"] == cfg.checkpoint_id
    assert body["checkpoint"]["channel_values"] == {"msg": "héllo"}
    assert body["metadata"]["step"] == 3
