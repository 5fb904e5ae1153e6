"""The benchmark's local S3 + DynamoDB: a moto server in its own process, bound to 127.0.0.1.

Run as ``python -m benchmarks.server``; prints ``{"url": ...}`` once listening, then serves JSON
line commands on stdin:

* ``{"cmd": "inject", "file": PATH}``: store the objects/items recorded by ``capture.Recorder``
  (a pickle of records) straight into moto's backends (see ``capture``).
* ``{"cmd": "stop"}``.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"


def inject(path: str) -> dict[str, int]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends

    with open(path, "rb") as f:
        records: list[dict[str, Any]] = pickle.load(f)
    s3 = s3_backends[ACCOUNT]["aws"]
    ddb = dynamodb_backends[ACCOUNT][REGION]
    n_s3 = n_ddb = 0
    for r in records:
        if r["kind"] == "s3":
            key = s3.put_object(r["bucket"], r["key"], r["body"], disable_notification=True)
            if r["meta"]:
                key.set_metadata({f"x-amz-meta-{k}": v for k, v in r["meta"].items()})
            n_s3 += 1
        else:
            ddb.put_item(r["table"], r["item"])
            n_ddb += 1
    return {"objects": n_s3, "items": n_ddb}


def speed_up_moto() -> None:
    """moto 5.2.5 re-parses every timestamp string with dateutil while rendering a response
    (~1 ms each: a 1,000-key LIST page spends over a second there). Memoize that pure function;
    responses are byte-identical. It makes the server's cost per listed key closer to S3's
    without changing what any request returns."""
    import functools

    from moto.core import serialize

    ts = serialize.TimestampSerializer
    original = ts._convert_timestamp_to_str

    @functools.lru_cache(maxsize=65536)
    def cached(value: Any, timestamp_format: str) -> Any:
        return original(ts(timestamp_format), value, timestamp_format)

    def convert(self: Any, value: Any, timestamp_format: str) -> Any:
        if isinstance(value, str | int | float):
            return cached(value, timestamp_format)
        return original(self, value, timestamp_format)

    ts._convert_timestamp_to_str = convert  # type: ignore[method-assign]


def serve(latency_s: float) -> Any:
    """moto's WSGI app on a threaded werkzeug server (as moto's ThreadedMotoServer does), with
    an optional fixed delay before each request is handled: a model of network + S3 latency
    under which concurrent requests overlap and sequential ones add up, as on a real S3."""
    import threading

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)

    def delayed(environ: Any, start_response: Any) -> Any:
        time.sleep(latency_s)
        return app(environ, start_response)

    server = make_server(
        "127.0.0.1",
        0,
        delayed if latency_s > 0 else app,
        True,
        request_handler=MotoRequestHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    import argparse
    import logging

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=0.0)
    args = ap.parse_args()
    speed_up_moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request log line

    out = sys.stdout
    sys.stdout = sys.stderr
    server = serve(args.latency_ms / 1000)
    host, port = server.server_address[:2]
    out.write(json.dumps({"url": f"http://{host}:{port}"}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        t0 = time.perf_counter()
        try:
            if cmd["cmd"] == "inject":
                reply: dict[str, Any] = {"ok": True, **inject(cmd["file"])}
            elif cmd["cmd"] == "stop":
                break
            else:
                reply = {"ok": False, "error": f"unknown command {cmd['cmd']!r}"}
        except Exception as e:
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        reply["seconds"] = time.perf_counter() - t0
        out.write(json.dumps(reply) + "\n")
        out.flush()
    server.shutdown()


if __name__ == "__main__":
    main()
