"""One awaited reply, handed from a client's receiver greenlet to the greenlet that waits for it."""

from __future__ import annotations

from typing import Any

from gevent.hub import Waiter
from gevent.queue import Empty
from gevent.timeout import Timeout


class ReplyTimer:
    """A client's one timer for its reply waits, restarted per wait instead of made anew (a new gevent
    Timeout is a new loop watcher). A timer that fired is replaced, never restarted: gevent fired such a
    restarted Timeout at once here (the next request failed as ``timeout`` in 0 ms)."""

    __slots__ = ("_timeout", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timeout = Timeout(seconds)

    def acquire(self, seconds: float) -> Timeout:
        """The shared timer, or a new one when another wait holds it or the limit differs."""
        timeout = self._timeout
        if timeout.pending or seconds != self.seconds:
            return Timeout(seconds)
        return timeout

    def fired(self, timeout: Timeout) -> None:
        if timeout is self._timeout:
            self._timeout = Timeout(self.seconds)


class OneReply:
    """The one reply a request waits for, with the ``put``/``get`` of a gevent Queue (see ``WebSocketClient._next``).

    The receiver hands the reply over with one scheduled switch to the waiting greenlet, and the wait
    reuses the client's timer: a Queue (getter list, unlock callback, a new timer per ``get``) cost about
    5 µs more per request. Only the first message counts, as a Queue's first ``get`` would return it.
    """

    __slots__ = ("_given", "_timers", "_waiter")

    def __init__(self, timers: ReplyTimer) -> None:
        self._waiter, self._timers, self._given = Waiter(), timers, False

    def put(self, item: tuple[Any, int]) -> None:
        if not self._given:
            self._given = True
            self._waiter.hub.loop.run_callback(self._waiter.switch, item)

    def get(self, timeout: float) -> tuple[Any, int]:
        timer = self._timers.acquire(timeout)
        timer.start()
        try:
            return self._waiter.get()  # type: ignore[no-any-return]
        except Timeout as exc:
            if exc is not timer:
                raise  # the caller's own timeout, not ours
            self._timers.fired(timer)
            raise Empty from None
        finally:
            timer.cancel()
