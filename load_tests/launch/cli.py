"""``python run_load_tests.py``: parse flags, resolve settings, run, and turn user mistakes into one line.

Exit codes: 0 passed, 1 thresholds failed, 2 usage/config/target error, 3 no summary produced,
4 invalid run,
130/143 interrupted (partial reports written).
"""

from __future__ import annotations

import sys
from pathlib import Path

from load_tests.core.errors import HarnessError, OneLineArgumentParser, UsageError
from load_tests.core.run_folder import EXIT_PASSED
from load_tests.core.scenarios import Scenario, format_duration
from load_tests.launch.catalogue import ALL, TEST_TYPES
from load_tests.launch.locust_launcher import run
from load_tests.launch.openapi import write_config
from load_tests.launch.series import dry_run_series, run_series
from load_tests.launch.settings import load_settings
from load_tests.launch.sweep import dry_run_sweep, run_sweep
from load_tests.reporting.junit import write_junit_of_run


def _add_load_flags(parser: OneLineArgumentParser) -> None:
    """How much load: users, duration, arrival rate and process."""
    parser.add_argument("--users", help="override the peak number of users (stages scale with it)")
    parser.add_argument("--spawn-rate", help="override the spawn rate (users per second)")
    parser.add_argument("--duration", help="override the duration, e.g. 30s, 5m (stages scale with it)")
    parser.add_argument("--rate", help="open-model load: start this many iterations per second (constant arrival rate)")
    parser.add_argument("--max-users", help="arrival-rate load: the pool of users running the iterations")
    parser.add_argument("--arrival", help="arrival-rate load: constant (default), poisson or gamma arrivals")
    parser.add_argument("--burstiness", help="with --arrival gamma: the gaps' shape (below 1 burstier than Poisson)")


def build_parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(
        prog="run_load_tests.py",
        description="Load-test an AI service over HTTP/REST, WebSocket, Socket.IO and gRPC with Locust.",
        epilog="Exit codes: 0 passed, 1 thresholds failed, 2 usage/config/target error, 3 no summary, "
        "4 invalid run (generator saturated, rate not achieved), 130/143 interrupted. Environment: "
        "LOADTEST_SCENARIO, LOADTEST_TEST_TYPE, LOADTEST_HOST, LOADTEST_USERS, LOADTEST_SPAWN_RATE, "
        "LOADTEST_DURATION, LOADTEST_OUTPUT_DIR, LOADTEST_CONFIG, LOADTEST_WORKERS, LOADTEST_TARGET_PID, "
        "LOADTEST_METRICS_URL, LOADTEST_RATE, LOADTEST_MAX_USERS, LOADTEST_ARRIVAL.",
    )
    parser.add_argument("--scenario", help="scenario name (default from config: smoke); see --list-scenarios")
    parser.add_argument("--test-type", help=f"{', '.join([*TEST_TYPES, ALL])}, a service of the config's fleet, "
                        "or a comma list (default all: the fleet's services, or every bundled test type)")  # fmt: skip
    parser.add_argument("--locustfile", help="run your own locustfile's users with everything the harness gives")
    parser.add_argument("--user-classes", help="with --locustfile: the user classes to run (default: all of them)")
    parser.add_argument("--from-openapi", metavar="URL_OR_FILE",
                        help="write a starter fleet config from an OpenAPI document and exit")  # fmt: skip
    parser.add_argument("--output", help="with --from-openapi: the file to write (default fleet-<service>.yaml)")
    parser.add_argument("--host", help="base URL of the service (default: start the bundled reference target)")
    parser.add_argument("--grpc-target", help="host:port of the gRPC service (default: config, or the bundled target)")
    parser.add_argument("--config", help="YAML config file (default load_tests/config/load_test_config.yaml)")
    parser.add_argument("--output-dir", help="where reports go: <dir>/<scenario>/<timestamp>/ (default reports)")
    parser.add_argument("--tags", nargs="+", help="run only tasks with these tags (e.g. predict chat)")
    parser.add_argument("--exclude-tags", nargs="+", help="skip tasks with these tags")
    _add_load_flags(parser)
    parser.add_argument("--workers", help="run on Locust's master/worker engine with N local worker processes")
    parser.add_argument(
        "--master",
        action="store_true",
        help="be the master of a run across machines, expecting --workers N (default 1) workers",
    )
    parser.add_argument("--worker", action="store_true", help="join a master on another machine (--master-host)")
    parser.add_argument("--master-host", help="with --worker: the host running --master")
    parser.add_argument("--master-port", help="the master's port (default 5557)")
    parser.add_argument("--target-pid", help="sample this process's CPU/RSS as the target's (same host)")
    parser.add_argument("--metrics-url", help="scrape this Prometheus /metrics URL during the run")
    parser.add_argument(
        "--web-ui",
        action="store_true",
        help="run with Locust's web UI to watch (the run still starts and ends by itself)",
    )
    parser.add_argument("--web-host", help="with --web-ui: the address it listens on (default 127.0.0.1 only)")
    parser.add_argument("--web-port", help="with --web-ui: its port (default 8089)")
    parser.add_argument("--repeat", help="run the scenario N times and report the spread of every figure")
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="run every combination of the config's matrix: section, with one combined report",
    )
    parser.add_argument("--sweep", metavar="rates=1,2,4|users=10,20",
                        help="run the scenario at each arrival rate (or user count) up to saturation; writes a table "
                        "and the trade-off plot with the knee marked")  # fmt: skip
    parser.add_argument("--list-scenarios", action="store_true", help="print the scenario catalogue and exit")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the Locust command, run nothing")
    parser.add_argument(
        "--junit", metavar="FILE", help="also write JUnit XML of the thresholds here (in CI: junit.xml)"
    )
    return parser


def _catalogue_line(s: Scenario) -> str:
    rates = sorted({stage.spawn_rate for stage in s.stages})
    rate = "/".join(f"{r:g}" for r in rates)
    duration = format_duration(s.duration_s)
    return f"  {s.name:<14} {s.peak_users:>6} {rate:>8} {duration:>9} {len(s.stages):>6}  {s.description}"


def _repeat(value: str | None) -> int:
    if value is None:
        return 1
    try:
        repeat = int(value)
    except ValueError:
        raise UsageError(f"--repeat: {value!r} is not a whole number") from None
    if not 1 <= repeat <= 100:
        raise UsageError(f"--repeat: must be between 1 and 100, got {repeat}")
    return repeat


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.from_openapi:
            written = write_config(args.from_openapi, Path(args.output) if args.output else None)
            print(f"Wrote {written}: run it with python run_load_tests.py --config {written}")
            return EXIT_PASSED
        if args.sweep and not args.list_scenarios:  # each point sets --rate or --users before settings are read
            if _repeat(args.repeat) > 1 or args.matrix:
                raise UsageError("--sweep: not with --repeat or --matrix")
            return dry_run_sweep(vars(args)) if args.dry_run else run_sweep(vars(args))
        settings = load_settings(vars(args))
        if args.list_scenarios:
            print(f"  {'scenario':<14} {'users':>6} {'spawn/s':>8} {'duration':>9} {'stages':>6}  description")
            for scenario in settings.scenarios.values():
                print(_catalogue_line(scenario))
            return EXIT_PASSED
        repeat = _repeat(args.repeat)
        if args.matrix and args.dry_run:
            return dry_run_series(vars(args))
        if (repeat > 1 or args.matrix) and not args.dry_run:
            return run_series(vars(args), repeat, args.matrix)
        run_dirs: list[Path] = []
        code = run(settings, dry_run=args.dry_run, run_dirs=run_dirs)
        if args.junit and run_dirs:
            write_junit_of_run(run_dirs[0], Path(args.junit))
        return code
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
