"""The WebSocket client's wait for one reply (clients/one_reply.py): the first reply wins, a wait times out
after its own limit, and a wait after a timed-out one still waits its whole limit (gevent fired a restarted
Timeout at once, failing the next request in 0 ms)."""

from __future__ import annotations

import time

import gevent
import pytest
from gevent.queue import Empty
from gevent.timeout import Timeout

from load_tests.clients.one_reply import OneReply, ReplyTimer


def _waited(reply: OneReply, limit: float) -> tuple[object, float]:
    start = time.perf_counter()
    try:
        got: object = reply.get(limit)
    except Empty:
        got = Empty
    return got, time.perf_counter() - start


def test_the_first_reply_wins_even_when_it_came_before_the_wait() -> None:
    timers = ReplyTimer(1.0)
    reply = OneReply(timers)
    reply.put(("first", 1))
    reply.put(("second", 2))
    assert _waited(reply, 1.0)[0] == ("first", 1)


def test_every_wait_after_a_timeout_still_waits_its_whole_limit() -> None:
    timers = ReplyTimer(0.05)
    for _ in range(3):
        got, took = _waited(OneReply(timers), 0.05)
        assert got is Empty and 0.04 <= took < 1.0
    late = OneReply(timers)
    gevent.spawn_later(0.02, late.put, ("late", 4))
    got, took = _waited(late, 0.05)
    assert got == ("late", 4) and took < 0.05


def test_concurrent_waits_and_other_limits_get_timers_of_their_own() -> None:
    timers = ReplyTimer(0.5)
    replies = [OneReply(timers) for _ in range(3)]
    waits = [gevent.spawn(_waited, replies[0], 0.5), gevent.spawn(_waited, replies[1], 0.5)]
    waits.append(gevent.spawn(_waited, replies[2], 0.05))  # its own, shorter limit
    gevent.sleep(0.01)
    replies[1].put(("b", 2))
    replies[0].put(("a", 1))
    results = [w.get(timeout=2) for w in waits]
    assert [r[0] for r in results] == [("a", 1), ("b", 2), Empty]
    assert 0.04 <= results[2][1] < 0.4


def test_the_callers_own_timeout_is_not_taken_for_a_reply_timeout() -> None:
    with pytest.raises(Timeout), Timeout(0.02):
        OneReply(ReplyTimer(1.0)).get(1.0)
