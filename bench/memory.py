"""Client memory of idle connected users: ``python bench/memory.py websocket|socketio N [LIMIT_MB]``.

Connects N of our clients (the ones our users hold) to the target in ``BENCH_TARGET`` and prints the
RSS before and after as JSON. With LIMIT_MB it keeps connecting in steps of 1,000 until RSS reaches
the limit or N, and reports how many it held within it.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from locust.event import EventHook  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from load_tests.clients.socketio_client import SocketIOClient  # noqa: E402
from load_tests.clients.websocket_client import WebSocketClient  # noqa: E402
from load_tests.reference_service.launcher import TargetInfo  # noqa: E402


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def main() -> None:
    kind, count = sys.argv[1], int(sys.argv[2])
    limit_mb = float(sys.argv[3]) if len(sys.argv) > 3 else None
    info = TargetInfo(**json.loads(os.environ["BENCH_TARGET"]))
    event = EventHook()
    failures = []
    event.add_listener(lambda **kw: kw.get("exception") and failures.append(kw["exception"]))
    clients: list[object] = []

    def connect(_: int) -> None:
        if kind == "websocket":
            client: object = WebSocketClient(info.ws_url, event, timeout=30)
        else:
            client = SocketIOClient(info.http_url, event, timeout=30)
        if client.connect():  # type: ignore[attr-defined]
            clients.append(client)

    gevent.sleep(0.2)
    before = _rss_mb()
    pool = Pool(100)
    held_within = None
    step = 1000 if limit_mb else count
    while len(clients) < count:
        pool.map(connect, range(min(step, count - len(clients))))
        gevent.sleep(0.5)
        if limit_mb and _rss_mb() > limit_mb:
            break
        held_within = len(clients)
    gevent.sleep(1.0)
    after = _rss_mb()
    per_connection = (after - before) / max(len(clients), 1)
    extrapolated = int((limit_mb - before) / per_connection) if limit_mb and per_connection > 0 else None
    print(
        json.dumps(
            {
                "kind": kind,
                "connected": len(clients),
                "failures": len(failures),
                "rss_before_mb": before,
                "rss_after_mb": after,
                "mb_per_1000": 1000 * (after - before) / max(len(clients), 1),
                "held_within_limit": held_within,
                "extrapolated_within_limit": extrapolated,
                "limit_mb": limit_mb,
            }
        )
    )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
