"""Run one load test: start the bundled target if needed, launch Locust, collect the verdict.

Locust runs as a child process (it monkey-patches whatever imports it) in its own session, so a
Ctrl-C reaches this process first: we forward SIGINT to Locust (the path on which Locust still writes
its HTML report and our listener its summary), wait for it, and only then stop the target. A second
Ctrl-C kills Locust at once.

Distributed runs use Locust's own master/worker engine: ``--workers N`` starts the Locust process as
``--master`` on a free loopback port plus N ``--worker`` processes; ``--master`` / ``--worker`` are
the two halves of a run across machines (see docs/distributed.md).

Exit codes are spelled in core/run_folder.py: 0 passed, 1 failed, 2 usage/config/target error, 3 no
summary (a crash: see the log above), 4 invalid (core/validity.py), 130/143 interrupted by SIGINT or
SIGTERM (the partial run's reports are still written). Child processes: launch/locust_process.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from load_tests.core.datasets import load_audio_samples, load_feature_rows
from load_tests.core.errors import ConfigError
from load_tests.core.plan import DEFAULT_TARGET_METRICS, ResourcesPlan, RunPlan
from load_tests.core.run_folder import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_NO_SUMMARY,
    EXIT_PASSED,
    EXIT_USAGE,
    RunFolder,
    new_timestamp,
    unique_run_dir,
)
from load_tests.core.scenarios import Arrival, format_duration
from load_tests.core.scripted import check_protos
from load_tests.launch.catalogue import SHAPE_FILE
from load_tests.launch.locust_process import LocalWorkers, LocustProcess, RunnerSignals, child_env, free_port
from load_tests.launch.plan_writer import plan_from_settings
from load_tests.launch.settings import Services, Settings
from load_tests.reference_service.launcher import TargetInfo, TargetProcess, wait_until_reachable

WORKER_WAIT_S = 60.0  # a master gives up (no summary, exit 3) when its workers have not all joined by then
WEB_UI_LINGER_S = 10  # --web-ui: seconds the final figures stay up in the browser before Locust quits


def _user_classes(settings: Settings) -> list[str]:
    profile = settings.scenario.profile
    classes = [c for t in settings.test_types for c in (t.users.get(profile) or t.users["normal"])]
    scripted = settings.scripted
    present = {"ScriptedWebSocketUser": scripted.websocket, "ScriptedSocketIOUser": scripted.socketio,
               "ScriptedGrpcUser": scripted.grpc}  # fmt: skip
    return [c for c in classes if present.get(c, True)]


def _files(settings: Settings) -> str:
    """Each locustfile once (every fleet service shares one), then the scenario shape's."""
    files = dict.fromkeys(str(t.path) for t in settings.test_types)
    return ",".join([*files, str(SHAPE_FILE)])


def locust_command(settings: Settings, plan: RunPlan, run_dir: Path, master_port: int | None = None) -> list[str]:
    """The ``locust`` command line for this run (headless, scenario shape, our reports); with
    ``master_port`` the process is a Locust master expecting ``settings.distribution.workers``."""
    folder = RunFolder(run_dir, plan.timestamp)
    # user classes right after -f: Locust's --tags takes every word after it, class names included
    cmd = [
        sys.executable, "-m", "locust", "-f", _files(settings), *_user_classes(settings), "--headless",
        "--host", _host(settings, plan),
        "--html", str(folder.locust_html), "--csv", str(folder.locust_csv_prefix), "--csv-full-history",
        "--only-summary", "--loglevel", "INFO", "--stop-timeout", f"{settings.stop_timeout_s:g}",
    ]  # fmt: skip
    if settings.web_ui is not None:  # watch it in a browser; it still starts and quits by itself
        host, port = settings.web_ui
        cmd[cmd.index("--headless")] = "--autostart"
        cmd += ["--autoquit", str(WEB_UI_LINGER_S), "--web-host", host, "--web-port", str(port)]
    if master_port is not None:
        dist = settings.distribution
        bind = "0.0.0.0" if dist.mode == "master" else "127.0.0.1"  # remote workers must reach it
        cmd += ["--master", "--master-bind-host", bind, "--master-bind-port", str(master_port),
                "--expect-workers", str(dist.workers), "--expect-workers-max-wait", f"{WORKER_WAIT_S:g}"]  # fmt: skip
    if settings.tags:
        cmd += ["--tags", *settings.tags]
    if settings.exclude_tags:
        cmd += ["--exclude-tags", *settings.exclude_tags]
    return cmd


def _host(settings: Settings, plan: RunPlan) -> str:
    """Locust's --host: the REST service's, else a locustfile service's own URL (fleet users name theirs)."""
    urls = [t.address for t in settings.test_types if not t.bundled and t.address and "://" in t.address]
    return plan.services.rest_url or (urls[0] if urls else "http://127.0.0.1")


def worker_command(settings: Settings, master_host: str, master_port: int) -> list[str]:
    """A Locust worker joining ``master_host:master_port`` (the master picks users, shape and tags)."""
    return [sys.executable, "-m", "locust", "-f", _files(settings), "--worker", "--master-host", master_host,
            "--master-port", str(master_port), "--loglevel", "WARNING", *_user_classes(settings)]  # fmt: skip


def _check_data(settings: Settings) -> None:
    """Fail before starting anything when a data file or a .proto is missing or bad (one-line ConfigError)."""
    load_feature_rows(settings.features_csv)
    load_audio_samples(settings.audio_dir)
    if any(t.name == "scripted" for t in settings.test_types):
        check_protos(settings.scripted, Path("."))


_HOW = {
    "rest": "--host or services.rest.url",
    "llm": "--host or services.rest.url (the OpenAI-compatible API's server)",
    "websocket": "--host or services.websocket.url",
    "socketio": "--host or services.socketio.url",
    "grpc": "--grpc-target or services.grpc.target",
}


def _check_reachable(services: Services, settings: Settings) -> None:
    """Every chosen test type knows where its service is, and something listens there."""
    for test_type in settings.test_types:
        if test_type.name == "scripted" or (not test_type.bundled and not test_type.address):
            continue  # each entry names its own URL, or uses the services above; a locustfile knows its own
        if not test_type.bundled:
            wait_until_reachable(str(test_type.address), timeout=5.0)
            continue
        url = services.address_of(test_type.name)
        if not url:
            raise ConfigError(f"test type {test_type.name}: no address for its service (give {_HOW[test_type.name]})")
        wait_until_reachable(url, timeout=5.0)


def describe_plan(settings: Settings, cmd: list[str] | None, out: TextIO) -> None:
    s = settings.scenario
    print(f"Scenario {s.name}: {s.description}".rstrip(": "), file=out)
    previous = 0
    for i, stage in enumerate(s.stages, start=1):
        print(
            f"  stage {i}: {previous} -> {stage.users} users at {stage.spawn_rate:g}/s, "
            f"{format_duration(stage.duration_s)} (profile {s.profile})",
            file=out,
        )
        previous = stage.users
    print(f"  total {format_duration(s.duration_s)}, peak {s.peak_users} users", file=out)
    if s.arrival is not None:
        print(f"  {arrival_line(s.arrival)}", file=out)
    if s.stop_when:
        print(f"  stop when {', '.join(f'{k} > {v:g}' for k, v in s.stop_when.items() if k != 'for_s')} over "
              f"{s.stop_when.get('for_s', 10):g}s", file=out)  # fmt: skip
    print(f"Test types: {', '.join(t.name for t in settings.test_types)}", file=out)
    for name in settings.skipped_test_types:
        print(f"  skipped {name}: no address for its service (give {_HOW[name]})", file=out)
    svc = settings.services
    if not any(t.bundled for t in settings.test_types):
        pass  # the fleet's services name their own addresses
    elif svc.needs_bundled_target:
        print("Target: the bundled reference target, started on free ports", file=out)
    else:
        print(f"Target: rest={svc.rest_url} websocket={svc.websocket_url} socketio={svc.socketio_url} "
              f"grpc={svc.grpc_target}", file=out)  # fmt: skip
    for t in settings.test_types:
        if not t.bundled:
            print(f"  service {t.name}: {t.address or 'its own locustfile'}", file=out)
    print(f"Reports: {settings.output_dir / s.name}/<timestamp>/", file=out)
    if cmd:
        print("Locust: " + " ".join(cmd), file=out)


def arrival_line(a: Arrival) -> str:
    """The open-model schedule in one line, as the plan shows it."""
    if a.process == "trace":
        return f"arrivals: trace {a.trace} ({a.scheduled_until(a.duration_s)} rows), pool {a.max_users} users"
    rates = "/".join(f"{r:g}" for r in (a.start_rate, *(r for _, r in a.stages)))
    process = {"constant": "evenly spaced", "poisson": f"Poisson (seed {a.seed})",
               "gamma": f"gamma, burstiness {a.burstiness:g} (seed {a.seed})"}[a.process]  # fmt: skip
    return f"arrivals: {process}, {rates} iterations/s over {format_duration(a.duration_s)}, pool {a.max_users} users"


def _bundled_resources(settings: Settings, info: TargetInfo) -> ResourcesPlan:
    """Sample the bundled target's process and its /metrics unless the config says otherwise."""
    resources = settings.resources
    if not resources.target_pid:
        resources = replace(resources, target_pid=info.pid)
    if not resources.metrics_url:
        resources = replace(resources, metrics_url=f"{info.http_url}/metrics",
                            metrics=resources.metrics or DEFAULT_TARGET_METRICS)  # fmt: skip
    return resources


def _run_worker(settings: Settings, out: TextIO) -> int:
    """``--worker``: join a master on another machine; it decides users, shape, tags and reports."""
    dist = settings.distribution
    assert dist.master_host is not None
    _check_reachable(settings.services, settings)
    with tempfile.TemporaryDirectory(prefix="load_tests_worker_") as tmp:
        plan = plan_from_settings(settings, Path(tmp), new_timestamp(), with_scenario=True, from_runner=True)
        plan_path = RunFolder(Path(tmp), "").plan
        plan.write(plan_path)
        print(f"Joining the Locust master at {dist.master_host}:{dist.master_port} as a worker "
              f"(test types {', '.join(t.name for t in settings.test_types)})", file=out, flush=True)  # fmt: skip
        code = LocustProcess(worker_command(settings, dist.master_host, dist.master_port), child_env(plan_path)).run()
    print(f"Worker finished (Locust exit code {code})", file=out, flush=True)
    return EXIT_PASSED if code == 0 else EXIT_NO_SUMMARY


def run(
    settings: Settings, *, dry_run: bool = False, out: TextIO = sys.stdout, run_dirs: list[Path] | None = None
) -> int:
    """Run the load test ``settings`` describe and return the exit code; ``run_dirs`` gets its report folder."""
    _check_data(settings)
    dist = settings.distribution
    if dist.mode == "worker":
        if dry_run:
            print("Locust worker: " + " ".join(worker_command(settings, dist.master_host or "", dist.master_port)),
                  file=out)  # fmt: skip
            return EXIT_PASSED
        return _run_worker(settings, out)
    timestamp = new_timestamp()
    run_dir = unique_run_dir(settings.output_dir.resolve(), settings.scenario.name, timestamp)
    master_port = {"local": None, "master": dist.master_port}.get(dist.mode, 0)
    if dry_run:
        plan = plan_from_settings(settings, run_dir, timestamp, with_scenario=True, from_runner=True)
        describe_plan(settings, locust_command(settings, plan, run_dir, master_port), out)
        if dist.mode == "workers":
            print(f"Locust workers ({dist.workers}): " + " ".join(worker_command(settings, "127.0.0.1", 0)), file=out)
        return EXIT_PASSED
    describe_plan(settings, None, out)
    with contextlib.ExitStack() as stack:
        signals = stack.enter_context(RunnerSignals())  # entered first, so restored last
        settings = _with_target(settings, stack, out)
        signals.check()  # a Ctrl-C while the target started: stop here, before any report folder
        run_dir.mkdir(parents=True)
        if run_dirs is not None:
            run_dirs.append(run_dir)
        plan = plan_from_settings(settings, run_dir, timestamp, with_scenario=True, from_runner=True)
        plan_path = RunFolder(run_dir, timestamp).plan
        plan.write(plan_path)
        env = child_env(plan_path)
        if master_port == 0:
            master_port = free_port()
        signals.check()
        locust = LocustProcess(locust_command(settings, plan, run_dir, master_port), env)
        local_workers = dist.workers if dist.mode == "workers" else 0
        worker_cmd = worker_command(settings, "127.0.0.1", master_port or 0)
        workers = stack.enter_context(LocalWorkers(worker_cmd, env, local_workers, out))
        _announce_listeners(settings, master_port, out)
        locust_code = locust.run(on_start=workers.start)
        if locust_code == EXIT_USAGE:  # refused at init (engine/tag_filter.py): the workers need no grace
            workers.kill()
        signals.ignore()
    return _conclude(run_dir, timestamp, locust_code, locust.signals, out)


def _with_target(settings: Settings, stack: contextlib.ExitStack, out: TextIO) -> Settings:
    """``settings`` pointing at a target that is up: the bundled one, started on ``stack`` (which stops it),
    or the user's, checked to be listening."""
    api_key = os.environ.get(settings.services.api_key_env) or None
    services = settings.services
    if services.needs_bundled_target and any(t.bundled for t in settings.test_types):
        print("Starting the bundled reference target...", file=out, flush=True)
        info = stack.enter_context(TargetProcess(api_key=api_key))
        services = replace(services, rest_url=info.http_url, websocket_url=info.ws_url,
                           socketio_url=info.http_url, grpc_target=info.grpc_target)  # fmt: skip
        settings = replace(settings, resources=_bundled_resources(settings, info))
        print(f"Target ready: {info.http_url} (gRPC {info.grpc_target}, pid {info.pid})", file=out, flush=True)
    else:
        _check_reachable(services, settings)
    return replace(settings, services=services)


def _announce_listeners(settings: Settings, master_port: int | None, out: TextIO) -> None:
    """Where the user can watch the run (--web-ui) or must point remote workers (--master)."""
    if settings.web_ui is not None:
        host, port = settings.web_ui
        print(f"Locust web UI: http://{'[' + host + ']' if ':' in host else host}:{port}/", file=out, flush=True)
    dist = settings.distribution
    if dist.mode == "master":
        print(f"Locust master listening on port {master_port}: start {dist.workers} worker(s) with "
              f"`python run_load_tests.py --worker --master-host THIS_HOST --master-port {master_port} "
              "--host ... --test-type ...`", file=out, flush=True)  # fmt: skip


def _conclude(run_dir: Path, timestamp: str, locust_code: int, signals: list[int], out: TextIO) -> int:
    folder = RunFolder(run_dir, timestamp)
    summary_json, summary_txt = folder.summary_json, folder.summary_text
    if summary_txt.exists() and summary_json.exists():
        print("\n" + summary_txt.read_text(encoding="utf-8"), file=out)
        print(f"Reports written to {run_dir}:", file=out)
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
            print(f"  {path.relative_to(run_dir)}", file=out)
    elif signals:
        name = signal.Signals(signals[0]).name
        print(f"error: interrupted by {name} before the load test started: nothing was measured", file=sys.stderr)
        return 128 + signals[0]
    elif locust_code == EXIT_USAGE:  # our harness refused the run in Locust, with its own one-line error
        return EXIT_USAGE
    else:
        print(
            f"error: the load test wrote no summary (Locust exit code {locust_code}); see the log above",
            file=sys.stderr,
        )
        return EXIT_NO_SUMMARY
    if signals:
        print(f"Interrupted by {signal.Signals(signals[0]).name}: the reports above cover the partial run.", file=out)
        return 128 + signals[0]
    return locust_code if locust_code in (EXIT_PASSED, EXIT_FAILED, EXIT_INVALID) else EXIT_NO_SUMMARY
