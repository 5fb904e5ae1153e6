"""Shared bookkeeping of the reliability suite (issue 6): what was done, what was injected, what
was lost, printed at the end of the pytest run and optionally written as JSON.

Every ``tests/test_reliability_*.py`` module adds to one :class:`Tally` per pytest session
(``tally(pytestconfig)``); the first use registers a tiny plugin whose
``pytest_terminal_summary`` prints the totals. ``S3SAVER_RELIABILITY_JSON=path`` also writes them
to a file (docs/reliability.md records one such run).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from s3saver import S3CheckpointSaver
from tests.faultproxy import ProxyStats
from tests.helpers import s3_saver
from tests.s3env import Endpoint

_KEY = "_s3saver_reliability_tally"


@dataclass
class Tally:
    operations: Counter[str] = field(default_factory=Counter)  # attempted, by kind
    acknowledged: int = 0  # operations that returned success
    raised: Counter[str] = field(default_factory=Counter)  # operations that raised, by kind
    lost: int = 0  # acknowledged writes not found afterwards (must stay 0)
    faults: Counter[str] = field(default_factory=Counter)  # injected by the proxy, by kind
    proxied_requests: int = 0
    kills: Counter[str] = field(default_factory=Counter)  # SIGKILLed writer processes, by point
    problems_found: Counter[str] = field(default_factory=Counter)  # verify, before repair
    problems_left: int = 0  # after repair (must stay 0)
    checks: Counter[str] = field(default_factory=Counter)  # assertions of note, by kind

    def op(self, kind: str, ok: bool) -> None:
        self.operations[kind] += 1
        if ok:
            self.acknowledged += 1
        else:
            self.raised[kind] += 1

    def add_proxy(self, stats: ProxyStats) -> None:
        self.faults.update(stats.faults)
        self.proxied_requests += stats.requests

    def as_dict(self) -> dict[str, Any]:
        return {
            "operations": sum(self.operations.values()),
            "operations_by_kind": dict(sorted(self.operations.items())),
            "acknowledged": self.acknowledged,
            "raised": dict(sorted(self.raised.items())),
            "lost": self.lost,
            "faults_injected": sum(self.faults.values()),
            "faults_by_kind": dict(sorted(self.faults.items())),
            "proxied_requests": self.proxied_requests,
            "kills": dict(sorted(self.kills.items())),
            "verify_problems_before_repair": dict(sorted(self.problems_found.items())),
            "problems_left_after_repair": self.problems_left,
            "checks": dict(sorted(self.checks.items())),
        }

    def lines(self) -> list[str]:
        d = self.as_dict()
        return [
            f"operations: {d['operations']} {d['operations_by_kind']}",
            f"acknowledged: {d['acknowledged']}; raised: {d['raised']}",
            f"faults injected: {d['faults_injected']} {d['faults_by_kind']} "
            f"over {d['proxied_requests']} proxied requests",
            f"writer processes killed: {d['kills']}",
            f"verify before repair: {d['verify_problems_before_repair']}; "
            f"left after repair: {d['problems_left_after_repair']}",
            f"checks: {d['checks']}",
            f"LOST (acknowledged, then missing): {d['lost']}",
        ]


class _Reporter:
    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("s3saver reliability (issue 6)")
        for line in self.tally.lines():
            terminalreporter.write_line(line)
        path = os.environ.get("S3SAVER_RELIABILITY_JSON")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump(self.tally.as_dict(), f, indent=2)
                f.write("\n")


async def checked_like(saver: S3CheckpointSaver, endpoint: Endpoint, bucket: str) -> None:
    """Give a saver that talks through the fault proxy (``check_store=False``: its URL changes
    with every proxy, and the check's probes would meet the faults) what the store check
    learns about the real endpoint: how If-Match wants its ETag (Ceph RGW: bare)."""
    async with s3_saver(endpoint, bucket, "reliability-check") as checked:
        saver.transport.quote_if_match = checked.transport.quote_if_match


def tally(config: pytest.Config) -> Tally:
    """The session's tally; the first call hooks the end-of-run report in."""
    found = getattr(config, _KEY, None)
    if found is None:
        found = Tally()
        setattr(config, _KEY, found)
        config.pluginmanager.register(_Reporter(found), "s3saver-reliability-report")
    return found
