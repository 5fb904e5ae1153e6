"""Data outlives the process that wrote it: a fresh saver in a new Python process, configured
only through ``s3://`` URL and the standard AWS environment, reads back exactly what was put."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from s3saver import CheckpointMetadata, Config
from tests.helpers import checkpoint, put_many, s3_saver, unique_prefix
from tests.s3env import Endpoint

ROOT = Path(__file__).resolve().parent.parent

READER = textwrap.dedent(
    """
    import asyncio, json, sys
    from s3saver import Config, S3CheckpointSaver

    def tup(t):
        if t is None:
            return None
        return {
            "config": [t.config.thread_id, t.config.checkpoint_ns, t.config.checkpoint_id],
            "parent": None if t.parent_config is None else t.parent_config.checkpoint_id,
            "checkpoint": t.checkpoint.to_json(),
            "metadata": t.metadata.to_json(),
            "writes": [list(w) for w in t.pending_writes],
        }

    async def main():
        request = json.loads(sys.stdin.read())
        out = {"newest": {}, "list": {}, "get": {}}
        async with S3CheckpointSaver.from_url(request["url"]) as saver:
            for thread, ns in request["threads"]:
                cfg = Config(thread_id=thread, checkpoint_ns=ns)
                out["newest"][thread + "|" + ns] = tup(await saver.get_tuple(cfg))
                out["list"][thread + "|" + ns] = [tup(t) for t in await saver.list(cfg)]
            for cid in request["ids"]:
                cp = await saver.get(cid)
                out["get"][cid] = None if cp is None else cp.to_json()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def read_in_new_process(endpoint: Endpoint, request: dict[str, Any]) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        **endpoint.client_env(),
    }
    done = subprocess.run(
        [sys.executable, "-c", READER],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


async def test_a_new_process_reads_back_what_was_put(endpoint: Endpoint, bucket: str) -> None:
    prefix = unique_prefix("restart")
    threads = [
        ("agent-1", ""),
        ("agent-1", "sub/graph"),
        ("ada@example.com / ü 😀", ""),
        ("x" * 500, "%..|"),
    ]
    expected_lists: dict[str, list[str]] = {}
    async with s3_saver(endpoint, bucket, prefix) as saver:
        for thread, ns in threads:
            ids = await put_many(saver, thread, 5, checkpoint_ns=ns)
            expected_lists[f"{thread}|{ns}"] = ids[::-1]
        last = Config(thread_id="agent-1", checkpoint_id=expected_lists["agent-1|"][0])
        final = checkpoint(messages=["hello", {"role": "ai", "n": 1.5, "ok": True}], none=None)
        meta = CheckpointMetadata(source="loop", step=5, parents={}, run_id="r", user="ada")
        cfg = await saver.put(final, meta, last)
        assert cfg.checkpoint_id is not None
        await saver.put_writes("agent-1", "", final.id, "task", "path", [(0, "ch", {"v": [1]})])
        expected_lists["agent-1|"].insert(0, final.id)
        here = await saver.get_tuple(Config(thread_id="agent-1"))
        assert here is not None
    # The writer is closed; a new process with nothing but the URL and the environment reads.
    all_ids = [cid for ids in expected_lists.values() for cid in ids]
    request = {
        "url": f"s3://{bucket}/{prefix}",
        "threads": [*threads, ("never-written", "")],
        "ids": [*all_ids, "unknown-id"],
    }
    out = await asyncio.to_thread(read_in_new_process, endpoint, request)

    newest = out["newest"]["agent-1|"]
    assert newest["config"] == ["agent-1", "", final.id]
    assert newest["parent"] == last.checkpoint_id
    assert newest["checkpoint"] == final.to_json()
    assert newest["metadata"] == meta.to_json()
    assert newest["writes"] == [["task", "ch", {"v": [1]}]]
    assert newest["checkpoint"] == here.checkpoint.to_json()
    for key, ids in expected_lists.items():
        assert [t["config"][2] for t in out["list"][key]] == ids, key
        thread, ns = key.split("|", 1)
        assert all(t["config"][:2] == [thread, ns] for t in out["list"][key])
        assert out["newest"][key]["config"][2] == ids[0]
    assert out["newest"]["never-written|"] is None
    assert out["list"]["never-written|"] == []
    for cid in all_ids:
        assert out["get"][cid] is not None and out["get"][cid]["id"] == cid
    assert out["get"]["unknown-id"] is None


async def test_a_new_process_sees_deletes_and_prunes(endpoint: Endpoint, bucket: str) -> None:
    prefix = unique_prefix("restart")
    async with s3_saver(endpoint, bucket, prefix) as saver:
        gone = await put_many(saver, "gone", 3)
        pruned = await put_many(saver, "pruned", 5)
        await saver.delete_thread("gone")
        assert await saver.prune("pruned", 2) == 3
    request = {
        "url": f"s3://{bucket}/{prefix}",
        "threads": [("gone", ""), ("pruned", "")],
        "ids": gone + pruned,
    }
    out = await asyncio.to_thread(read_in_new_process, endpoint, request)
    assert out["newest"]["gone|"] is None and out["list"]["gone|"] == []
    assert [t["config"][2] for t in out["list"]["pruned|"]] == pruned[::-1][:2]
    assert [cid for cid in gone + pruned if out["get"][cid] is not None] == pruned[-2:]
