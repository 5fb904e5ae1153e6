"""Key arithmetic of the bucket layout: names encode into safe, reversible, non-overlapping
segments, keys sort newest first, and every key the store makes parses back."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3saver import InvalidArgument
from s3saver.ids import new_checkpoint_id, put_time_order_key, time_order_key
from s3saver.layout import (
    MAX_SEGMENT,
    Layout,
    inverted,
    normalize_prefix,
    order_key_of,
    segment,
    unsegment,
)
from tests.helpers import HOSTILE

SEGMENT_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_%")


def check_segment(name: str) -> str:
    seg = segment(name)
    assert seg
    assert "/" not in seg and "." not in seg
    if seg.startswith("~"):
        assert len(seg) == 65 and set(seg[1:]) <= set("0123456789abcdef")
        assert unsegment(seg) is None
    else:
        assert set(seg) <= SEGMENT_CHARS
        assert len(seg) <= MAX_SEGMENT
        assert unsegment(seg) == name
    return seg


@pytest.mark.parametrize("name", HOSTILE, ids=lambda s: repr(s)[:24])
def test_hostile_names_make_safe_segments(name: str) -> None:
    check_segment(name)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_any_name_makes_a_safe_reversible_segment(name: str) -> None:
    check_segment(name)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_distinct_names_never_share_a_segment_or_a_prefix(a: str, b: str) -> None:
    layout = Layout("p/")
    if a != b:
        assert segment(a) != segment(b)
        pa, pb = layout.thread_prefix(a), layout.thread_prefix(b)
        assert not pa.startswith(pb) and not pb.startswith(pa)
        na, nb = layout.ns_prefix("t", a), layout.ns_prefix("t", b)
        assert not na.startswith(nb) and not nb.startswith(na)


def test_long_names_are_hashed_and_stay_distinct() -> None:
    a, b = "x" * 500, "x" * 499 + "y"
    assert segment(a).startswith("~") and segment(b).startswith("~")
    assert segment(a) != segment(b)
    assert segment("x" * MAX_SEGMENT) == "x" * MAX_SEGMENT
    assert segment("x" * (MAX_SEGMENT + 1)).startswith("~")
    # A name that looks like a hash is encoded, not taken for one.
    assert segment("~" + "0" * 64) != "~" + "0" * 64


def test_thread_a_and_thread_a_slash_b_do_not_overlap() -> None:
    layout = Layout("")
    prefixes = {name: layout.thread_prefix(name) for name in ["a", "a/b", "a b", "ab", "a%2Fb"]}
    assert len(set(prefixes.values())) == len(prefixes)
    for name, prefix in prefixes.items():
        for other, other_prefix in prefixes.items():
            if name != other:
                assert not other_prefix.startswith(prefix), (name, other)


def test_the_longest_keys_stay_within_s3_limits() -> None:
    layout = Layout(normalize_prefix("some/deep/prefix"))
    name = "é😀" * 250
    cid = name
    order = put_time_order_key()
    stem = layout.stem(name, name, order, cid)
    keys = [
        Layout.checkpoint_key(stem),
        Layout.write_key(stem, name),
        layout.index_key(cid),
        layout.thread_marker(name),
        layout.thread_run_marker(name, name),
        layout.run_thread_marker(name, segment(name)),
    ]
    for key in keys:
        assert len(key.encode("utf-8")) <= 1024, key


@pytest.mark.parametrize(
    ("prefix", "normal"),
    [("", ""), ("/", ""), ("a", "a/"), ("a/", "a/"), ("/a/b/", "a/b/"), ("a//", "a/")],
)
def test_prefixes_are_normalized(prefix: str, normal: str) -> None:
    assert normalize_prefix(prefix) == normal


def test_a_non_string_prefix_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        normalize_prefix(3)  # type: ignore[arg-type]


def test_newer_checkpoints_sort_first() -> None:
    layout = Layout("")
    ids = [new_checkpoint_id() for _ in range(200)]
    assert ids == sorted(ids)  # v6 ids: text order is time order
    keys = []
    for cid in ids:
        order = time_order_key(cid)
        assert order is not None
        keys.append(Layout.checkpoint_key(layout.stem("t", "", order, cid)))
    assert sorted(keys) == keys[::-1]


def test_inverted_round_trips() -> None:
    for key in [0, 1, 2**64, put_time_order_key(), 2**128 - 1]:
        inv = inverted(key)
        assert len(inv) == 32
        assert order_key_of(inv) == key


def test_time_order_keys() -> None:
    v6 = new_checkpoint_id()
    assert uuid.UUID(v6).version == 6
    later = new_checkpoint_id()
    k6, k6_later = time_order_key(v6), time_order_key(later)
    assert k6 is not None and k6_later is not None and k6 < k6_later
    v1 = str(uuid.uuid1())
    assert time_order_key(v1) is not None
    # Ids without a usable time.
    for other in [str(uuid.uuid4()), v6.upper(), "{" + v6 + "}", "step-1", "", v6[:-1]]:
        assert time_order_key(other) is None, other


def test_v7_ids_order_by_text() -> None:
    def v7(ms: int, rand: int) -> str:
        value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64
        value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
        return str(uuid.UUID(int=value))

    ids = sorted(v7(ms, r) for ms in (1, 2, 1_700_000_000_000) for r in (0, 5, 2**70 - 1))
    keys = [time_order_key(i) for i in ids]
    assert all(k is not None for k in keys)
    assert keys == sorted(keys)  # type: ignore[type-var]


def test_every_key_the_store_makes_parses_back() -> None:
    layout = Layout("pre/")
    for thread in ["t", "a/b", "x" * 500]:
        tprefix = layout.thread_prefix(thread)
        for ns in ["", "sub", "n/s"]:
            cid = new_checkpoint_id()
            order = time_order_key(cid)
            assert order is not None
            stem = layout.stem(thread, ns, order, cid)
            cp = layout.parse_thread_entry(tprefix, Layout.checkpoint_key(stem))
            assert cp.kind == "checkpoint" and cp.stem == stem and cp.id_seg == segment(cid)
            assert cp.ns_seg == ("" if ns == "" else segment(ns))
            wr = layout.parse_thread_entry(tprefix, Layout.write_key(stem, "task/1"))
            assert wr.kind == "write" and wr.stem == stem and wr.task_seg == segment("task/1")
            # StartAfter this stem skips the checkpoint and its writes, but not older ones.
            after = Layout.after_checkpoint(stem)
            assert after > Layout.write_key(stem, "~" * 10)
            older = layout.stem(thread, ns, order - 1, cid)
            assert after < Layout.checkpoint_key(older)
        assert layout.parse_thread_entry(tprefix, layout.thread_marker(thread)).kind == (
            "thread-marker"
        )
        assert layout.parse_thread_entry(tprefix, layout.shared_marker(thread)).kind == (
            "shared-marker"
        )
        run = layout.parse_thread_entry(tprefix, layout.thread_run_marker(thread, "r/1"))
        assert run.kind == "run-marker" and run.run_seg == segment("r/1")


@pytest.mark.parametrize(
    "suffix",
    [
        "README",
        "0" * 32,
        "0" * 32 + "-",
        "0" * 31 + "-x.json",
        "G" * 32 + "-x.json",
        "0" * 32 + "-x.txt",
        "0" * 32 + "-x.json/y",
        "0" * 32 + "-.json",
        "0" * 32 + "-a.b.json",
        "0" * 32 + "-x.w/",
        "0" * 32 + "-x.w/t.txt",
        "ns/",
        "ns//" + "0" * 32 + "-x.json",
        "ns/sub",
    ],
)
def test_keys_of_other_shapes_are_foreign(suffix: str) -> None:
    layout = Layout("")
    tprefix = layout.thread_prefix("t")
    assert layout.parse_thread_entry(tprefix, tprefix + suffix).kind == "foreign"
