"""``s3saver demo``: the library's main job, end to end, on an embedded S3 when none is configured.

The demo saves an agent's checkpoints, drops the saver as a restarted process would, opens a new
one on the same bucket, resumes from the newest checkpoint, lists the history and prunes it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from .integrity import repair, verify
from .model import Checkpoint, CheckpointMetadata, Config
from .store import S3CheckpointSaver
from .transport import resolved_endpoint


@contextmanager
def embedded_s3() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1, on a free port, for as long as the demo runs."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise SystemExit(
            "no S3 endpoint is configured and the embedded one needs moto: "
            "pip install 's3saver[server]' (or set AWS_ENDPOINT_URL_S3)"
        ) from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


async def _ensure_bucket(saver: S3CheckpointSaver) -> None:
    client = await saver.transport.client()
    try:
        await client.head_bucket(Bucket=saver.bucket)
    except Exception:
        await client.create_bucket(Bucket=saver.bucket)


async def run_demo(url: str, endpoint: str | None, say: object = print) -> None:
    def out(text: str) -> None:
        say(text)  # type: ignore[operator]

    thread = f"agent-{uuid.uuid4().hex[:8]}"
    out(f"s3saver demo: checkpoints of thread {thread!r} in {url} (endpoint {endpoint or 'AWS'})")

    saver = S3CheckpointSaver.from_url(url, endpoint_url=endpoint)
    await _ensure_bucket(saver)  # before open(): opening checks the store inside the bucket
    async with saver:
        parent: str | None = None
        for step in range(1, 6):
            state = {"messages": [f"user turn {n}" for n in range(1, step + 1)], "step": step}
            cfg = await saver.put(
                Checkpoint(channel_values=state),
                CheckpointMetadata(source="loop", step=step),
                Config(thread_id=thread, checkpoint_id=parent),
            )
            parent = cfg.checkpoint_id
            out(f"  saved step {step}: checkpoint {cfg.checkpoint_id}")
    out("process 'restarts': the saver and its client are gone; a new one opens the bucket")

    async with S3CheckpointSaver.from_url(url, endpoint_url=endpoint) as saver:
        latest = await saver.get_tuple(Config(thread_id=thread))
        assert latest is not None, "the newest checkpoint must survive the restart"
        values = latest.checkpoint.channel_values
        out(f"  resumed at step {values['step']} with {len(values['messages'])} messages")
        parent_id = latest.parent_config.checkpoint_id if latest.parent_config else None
        out(f"  its parent is {parent_id}")
        history = await saver.list(Config(thread_id=thread))
        out(f"  history, newest first: steps {[t.metadata.step for t in history]}")
        by_id = await saver.get(history[-1].checkpoint.id)
        step_by_id = by_id.channel_values["step"] if by_id else None
        out(f"  the oldest, fetched by id alone: step {step_by_id}")
        removed = await saver.prune(thread, keep=2)
        left = await saver.list(Config(thread_id=thread))
        out(f"  pruned {removed} old checkpoints; kept steps {[t.metadata.step for t in left]}")
        await saver.delete_thread(thread)
        gone = await saver.get_tuple(Config(thread_id=thread))
        out(f"  deleted the thread: newest checkpoint is now {gone}")
    out("demo finished")


async def run_verify(url: str, endpoint: str | None, fix: bool) -> int:
    async with S3CheckpointSaver.from_url(url, endpoint_url=endpoint) as saver:
        report = await (repair(saver) if fix else verify(saver))
    for problem in report.problems:
        print(f"{problem.kind}: {problem.key} {problem.detail}")
    for problem in report.repaired:
        print(f"repaired {problem.kind}: {problem.key}")
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="s3saver", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="save, restart, resume, list and prune on S3")
    demo.add_argument(
        "--url",
        default=os.environ.get("S3SAVER_URL", "s3://s3saver-demo/agents"),
        help="s3://bucket/prefix to use (default: s3://s3saver-demo/agents)",
    )
    demo.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS config)")
    check = sub.add_parser("verify", help="check a prefix's invariants (and --repair them)")
    check.add_argument("url", help="s3://bucket/prefix")
    check.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS config)")
    check.add_argument("--repair", action="store_true", help="fix what a crash can leave")
    args = parser.parse_args(argv)
    if args.command == "verify":
        return asyncio.run(run_verify(args.url, args.endpoint_url, args.repair))
    endpoint = resolved_endpoint(args.endpoint_url)
    if endpoint is None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        with embedded_s3() as local:
            print(f"no S3 endpoint configured: started an embedded moto S3 at {local}")
            asyncio.run(run_demo(args.url, local))
    else:
        asyncio.run(run_demo(args.url, endpoint))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
