"""``python -m load_tests.reference_service``: start the reference target and print one JSON line when ready.

The ready line (``{"event": "ready", "pid": ..., "http_port": ..., "grpc_port": ..., ...}``) lets a
runner or a test start it on port 0 and learn where it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from load_tests.core.errors import OneLineArgumentParser, UsageError
from load_tests.reference_service.faults import (
    DEFAULT_SERVICE_TIMES,
    OPERATIONS,
    PROTOCOLS,
    Faults,
    parse_faults,
    parse_service_time,
)
from load_tests.reference_service.llm_timing import ENV_PREFIX, KNOB_HELP, KNOBS, LlmTiming, parse_timing
from load_tests.reference_service.server import TargetOptions, print_ready, serve

API_KEY_ENV = "LOAD_TARGET_API_KEY"


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def parse_options(argv: list[str] | None = None) -> TargetOptions:
    parser = OneLineArgumentParser(prog="python -m load_tests.reference_service", description=__doc__.splitlines()[0])
    # one flat list in this order (no argparse groups), so --help reads as it always has
    _add_listen_arguments(parser)
    _add_fault_arguments(parser)
    _add_service_arguments(parser)
    _add_llm_arguments(parser)
    args = parser.parse_args(argv)
    _check(args)
    faults, times = _faults_and_times(args)
    return TargetOptions(
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
        faults=faults,
        service_times=times,
        db_pool_size=args.db_pool_size,
        seed=args.seed,
        access_log=args.access_log,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        llm=_llm_timing(args),
    )


def _add_listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--http-port", type=int, default=8000, help="HTTP/WebSocket/Socket.IO port, 0 = free port")
    parser.add_argument("--grpc-port", type=int, default=50051, help="gRPC port, 0 = free port")
    parser.add_argument("--api-key", help=f"require this key on every protocol (or set {API_KEY_ENV})")


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of calls that fail (0..1)")
    parser.add_argument("--extra-delay-ms", type=float, default=0.0, help="delay added to every call")
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of WebSocket/Socket.IO messages that drop the connection"
    )
    parser.add_argument(
        "--malformed-rate", type=float, default=0.0,
        help="fraction of replies cut short: bad JSON (HTTP), truncated frames (WebSocket, Socket.IO acks), "
        "undecodable protobuf (gRPC)",
    )  # fmt: skip
    parser.add_argument(
        "--reset-rate", type=float, default=0.0,
        help="fraction of HTTP requests and WebSocket/Socket.IO messages answered by a TCP reset",
    )  # fmt: skip
    parser.add_argument(
        "--overload-above", type=int, default=0,
        help="a call arriving while N calls (all protocols) are being served fails, as a saturated service (0: off)",
    )  # fmt: skip
    parser.add_argument(
        "--fault-operations", help=f"limit faults to these operations (comma list of {','.join(sorted(OPERATIONS))})"
    )
    parser.add_argument(
        "--fault-protocols", help=f"limit faults to these protocols (comma list of {','.join(sorted(PROTOCOLS))})"
    )


def _add_service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service-time",
        action="append",
        default=[],
        metavar="OP=MS[:JITTER]",
        help="simulated service time of an operation, repeatable (e.g. predict=20:5)",
    )
    parser.add_argument("--db-pool-size", type=int, default=20, help="simulated DB connection pool size")
    parser.add_argument("--seed", type=int, help="seed for jitter and fault draws (repeatable runs)")
    parser.add_argument("--tls-cert", help="PEM certificate: serve HTTPS/WSS and gRPC over TLS (with --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request (off: it costs throughput)")


def _add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    for name in KNOBS:
        parser.add_argument(
            f"--llm-{name.replace('_', '-')}",
            type=float,
            metavar="N",
            help=f"LLM: {KNOB_HELP[name]} (or {ENV_PREFIX}{name.upper()}; default {getattr(LlmTiming(), name)})",
        )


def _llm_timing(args: argparse.Namespace) -> LlmTiming:
    """The LLM knobs: a flag wins over its environment variable, which wins over the default."""
    timing = LlmTiming()
    for name in KNOBS:
        flag, env = f"--llm-{name.replace('_', '-')}", f"{ENV_PREFIX}{name.upper()}"
        value: float | None = getattr(args, f"llm_{name}")
        if value is None and os.environ.get(env):
            try:
                value = float(os.environ[env])
            except ValueError:
                raise UsageError(f"{env}: {os.environ[env]!r} is not a number") from None
        if value is None:
            continue
        try:
            timing = parse_timing({name: int(value) if value.is_integer() else value}, timing)
        except ValueError as exc:
            raise UsageError(f"{flag}: {exc}") from None
    return timing


def _check(args: argparse.Namespace) -> None:
    for flag, port in (("--http-port", args.http_port), ("--grpc-port", args.grpc_port)):
        if not 0 <= port <= 65535:
            raise UsageError(f"{flag}: {port} is not a port (0..65535)")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not os.path.isfile(path):
            raise UsageError(f"{flag}: file not found: {path}")
    if args.db_pool_size < 1:
        raise UsageError(f"--db-pool-size: must be at least 1, got {args.db_pool_size}")


def _faults_and_times(args: argparse.Namespace) -> tuple[Faults, dict[str, tuple[float, float]]]:
    try:
        faults = parse_faults(
            {
                "error_rate": args.error_rate,
                "extra_delay_ms": args.extra_delay_ms,
                "drop_rate": args.drop_rate,
                "malformed_rate": args.malformed_rate,
                "reset_rate": args.reset_rate,
                "overload_above": args.overload_above,
                "operations": _csv(args.fault_operations),
                "protocols": _csv(args.fault_protocols),
            }
        )
        times = dict(DEFAULT_SERVICE_TIMES)
        for spec in args.service_time:
            name, base, jitter = parse_service_time(spec)
            times[name] = (base, jitter)
    except ValueError as exc:
        raise UsageError(f"python -m load_tests.reference_service: {exc}") from exc
    return faults, times


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(argv)
        asyncio.run(serve(options, print_ready))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"error: cannot start the target: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
