"""One awaited reply, handed from a client's receiver greenlet to the greenlet that waits for it."""

from __future__ import annotations

from typing import Any

from gevent.hub import Waiter
from gevent.queue import Empty
from gevent.timeout import Timeout


class OneReply:
    """The one reply a request waits for, with the ``put``/``get`` of a gevent Queue (see ``WebSocketClient._next``).

    The receiver hands the reply over with one scheduled switch to the waiting greenlet, and the wait
    reuses the client's timer: a Queue (getter list, unlock callback, a new timer per ``get``) cost about
    5 µs more per request. Only the first message counts, as a Queue's first ``get`` would return it.
    """

    __slots__ = ("_given", "_timer", "_waiter")

    def __init__(self, timer: Timeout) -> None:
        self._waiter, self._timer, self._given = Waiter(), timer, False

    def put(self, item: tuple[Any, int]) -> None:
        if not self._given:
            self._given = True
            self._waiter.hub.loop.run_callback(self._waiter.switch, item)

    def get(self, timeout: float) -> tuple[Any, int]:
        timer = self._timer
        if timer.pending or timer.seconds != timeout:  # another greenlet's wait holds it, or another limit
            timer = Timeout(timeout)
        timer.start()
        try:
            return self._waiter.get()  # type: ignore[no-any-return]
        except Timeout as exc:
            if exc is not timer:
                raise  # the caller's own timeout, not ours
            raise Empty from None
        finally:
            timer.cancel()
