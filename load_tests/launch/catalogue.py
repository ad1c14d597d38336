"""Which protocols the harness can drive (``--test-type``), and which locustfile and users serve each.

The runner never imports the locustfiles (that would monkey-patch it with gevent); it only needs
their paths and user class names, kept here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from load_tests.core.errors import ConfigError

LOCUST_DIR = Path(__file__).resolve().parents[1] / "locust"
SHAPE_FILE = LOCUST_DIR / "scenario_shape.py"


@dataclass(frozen=True)
class TestType:
    name: str
    locustfile: str  # inside load_tests/locust/, or an absolute path (a fleet service's)
    users: dict[str, tuple[str, ...]]  # scenario profile -> user class names
    in_all: bool = True  # "all" runs it
    bundled: bool = True  # one of ours, against the reference service unless addresses are given
    address: str | None = None  # a fleet service's own URL or host:port

    @property
    def path(self) -> Path:
        return LOCUST_DIR / self.locustfile  # an absolute locustfile stays itself


TEST_TYPES: dict[str, TestType] = {
    t.name: t
    for t in (
        TestType("rest", "gateway_rest.py", {"normal": ("RestUser",), "stress": ("RestStressUser",)}),
        TestType(
            "websocket", "gateway_websocket.py", {"normal": ("WebSocketChatUser",), "stress": ("WebSocketStressUser",)}
        ),
        TestType(
            "socketio",
            "gateway_socketio.py",
            {"normal": ("SocketIOChatUser", "SocketIOPollingUser"), "stress": ("SocketIOStressUser",)},
        ),
        TestType("grpc", "grpc_services.py", {"normal": ("GrpcServicesUser",), "stress": ("GrpcStressUser",)}),
        TestType("llm", "llm_openai.py", {"normal": ("LlmChatUser",), "stress": ("LlmStressUser",)}),
        TestType(
            "scripted",
            "scripted_services.py",
            {"normal": ("ScriptedWebSocketUser", "ScriptedSocketIOUser", "ScriptedGrpcUser")},
            in_all=False,  # only with entries under `scripted:` in the YAML, so only when asked for
        ),
    )
}
ALL = "all"


def resolve_test_types(spec: str, fleet: dict[str, TestType] | None = None) -> tuple[TestType, ...]:
    """``rest``, a fleet service's name, ``all`` or a comma list -> the test types to run, in catalogue
    order (the bundled ones first, then the fleet's). ``all`` is every fleet service when the config
    describes a fleet, else every bundled test type."""
    fleet = fleet or {}
    known = {**TEST_TYPES, **{name.lower(): t for name, t in fleet.items()}}
    names = [n.strip().lower() for n in spec.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"test type: none given (use one of {', '.join([*known, ALL])})")
    if ALL in names:
        return tuple(fleet.values()) if fleet else tuple(t for t in TEST_TYPES.values() if t.in_all)
    chosen = []
    for name in names:
        if name not in known:
            raise ConfigError(f"test type {name!r} is unknown (use one of {', '.join([*known, ALL])}, or a comma list)")
        chosen.append(known[name])
    return tuple(t for t in known.values() if t in chosen)
