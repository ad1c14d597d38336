"""``--master`` / ``--worker --master-host`` across separate network stacks: Linux network namespaces.

The test builds five namespaces: a switch (a bridge) and four hosts joined to it by veth pairs — the
master, two workers and the reference service — with addresses in 10.231.N.0/24 that exist only inside
them, so no traffic leaves them and nothing in this machine's own network is touched. Then two runs:
two workers whose merged counts equal the service's own counters exactly, and one where a worker is
killed mid-run and the master still finishes, reports it lost and every process exits. Skips, saying
why, where namespaces cannot be made (not root, no ``ip``, a container without CAP_SYS_ADMIN).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO_ROOT, Ran, load_summary, sent

HOSTS = {"master": 1, "w1": 2, "w2": 3, "svc": 4}
RUN_ARGS = ["--test-type", "rest", "--tags", "health", "predict", "--users", "4", "--spawn-rate", "4"]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


class Net:
    """The namespaces of one test; ``exec`` runs a command inside one of them."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 10000}{random.randrange(100)}"
        self.subnet = random.randrange(1, 250)
        self.ns = {name: f"lt{tag}{name}" for name in [*HOSTS, "sw"]}

    def addr(self, host: str) -> str:
        return f"10.231.{self.subnet}.{HOSTS[host]}"

    def exec(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host]]

    def build(self) -> None:
        for ns in self.ns.values():
            _ip("netns", "add", ns)
        sw = self.ns["sw"]
        _ip("-n", sw, "link", "add", "br0", "type", "bridge")
        _ip("-n", sw, "link", "set", "br0", "up")
        for host in HOSTS:
            ns = self.ns[host]
            _ip("-n", sw, "link", "add", f"p-{host}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", sw, "link", "set", f"p-{host}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.addr(host)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def destroy(self) -> None:
        for ns in self.ns.values():  # deleting a namespace deletes its veth ends and the bridge with it
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "making network namespaces needs root (CI runs the suite as root)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"ltprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


def _service(net: Net) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        *net.exec("svc"),
        sys.executable,
        "-m",
        "load_tests.reference_service",
        "--host",
        net.addr("svc"),
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--service-time",
        "health=0",
        "--service-time",
        "predict=0",
    ]
    service = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert service.stdout is not None
    ready = json.loads(service.stdout.readline())  # one JSON line when it listens
    return service, f"http://{net.addr('svc')}:{ready['http_port']}"


def _served(net: Net, url: str) -> dict[str, float]:
    """The service's own request counters, read from inside the master's namespace (the only way in)."""
    read = f"import urllib.request; print(urllib.request.urlopen('{url}/metrics', timeout=5).read().decode())"
    text = subprocess.run([*net.exec("master"), sys.executable, "-c", read], capture_output=True, text=True,
                          timeout=20, check=True).stdout  # fmt: skip
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "target_requests_total" and s.labels.get("protocol") == "http":
                counts[s.labels["endpoint"]] = counts.get(s.labels["endpoint"], 0) + s.value
    return counts


def _start(
    net: Net, url: str, out: Path, seconds: int, port: int
) -> tuple[subprocess.Popen[str], list[subprocess.Popen[str]]]:
    master = subprocess.Popen([*net.exec("master"), sys.executable, "run_load_tests.py", "--master", "--workers", "2",
                               "--master-port", str(port), "--host", url, *RUN_ARGS, "--duration", f"{seconds}s",
                               "--output-dir", str(out)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    workers = []
    for host in ("w1", "w2"):
        cmd = [*net.exec(host), sys.executable, "run_load_tests.py", "--worker", "--master-host", net.addr("master"),
               "--master-port", str(port), "--host", url, "--test-type", "rest"]  # fmt: skip
        workers.append(subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True))  # fmt: skip
    return master, workers


class _Lines:
    """A process's output, read as it comes on a thread of its own, so the test can wait for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self.reader = threading.Thread(target=lambda: self.lines.extend(proc.stdout or ()), daemon=True)
        self.reader.start()

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.lines)):
                return True
            time.sleep(0.2)
        return False


def _finish(master: subprocess.Popen[str], workers: list[subprocess.Popen[str]], lines: _Lines) -> tuple[int, str]:
    try:
        master.wait(timeout=90)
        lines.reader.join(timeout=10)
        for worker in workers:
            worker.communicate(timeout=30)  # clean shutdown: the master's quit ends every worker
        return master.returncode, "".join(lines.lines)
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()


def _both_runs(_: None, out: Path) -> dict[str, Any]:
    """Two runs side by side, each with its own service (counters apart) and master port: ``exact`` with two
    workers to the end, ``kill`` with its second worker killed mid-run. Both tests read this one act."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    net, services = Net(), []
    try:
        net.build()
        services = [_service(net), _service(net)]
        (_, exact_url), (_, kill_url) = services
        folders = {name: out / name for name in ("exact", "kill")}
        exact = _start(net, exact_url, folders["exact"], 4, 5557)
        kill = _start(net, kill_url, folders["kill"], 10, 5558)
        lines = {"exact": _Lines(exact[0]), "kill": _Lines(kill[0])}
        assert lines["kill"].wait_for("All users spawned", 60), "".join(lines["kill"].lines)  # on both workers
        time.sleep(2)  # ...for a while
        launcher = psutil.Process(kill[1][1].pid)  # ip netns exec execs: this is the worker's launcher
        for proc in [*launcher.children(recursive=True), launcher]:  # its Locust worker too, as a crash would
            proc.send_signal(signal.SIGKILL)
        results = {"exact": _finish(*exact, lines["exact"]), "kill": _finish(*kill, lines["kill"])}
        return {"out": folders, "results": results, "served": _served(net, exact_url), "exact_workers": exact[1],
                "kill_workers": kill[1]}  # fmt: skip
    finally:
        for service, _ in services:
            service.terminate()
            service.wait(timeout=10)
        net.destroy()


# One act for both tests, in the lane (tests/conftest.py): its figures are counts, not speeds.
BOTH = pytest.mark.side_by_side(act=_both_runs, target=None, share="netns", weight=2, seconds=25)


@pytest.mark.slow
@BOTH
def test_master_and_two_workers_in_separate_namespaces_count_exactly(ran: Ran) -> None:
    runs = ran[2]
    code, output = runs["results"]["exact"]
    assert code == 0, output[-3000:]
    summary = load_summary(runs["out"]["exact"])
    counts, served = sent(summary, "http"), runs["served"]
    assert counts == served and sum(served.values()) > 10, (counts, served)  # the service's own counters
    generators = {g["name"]: g for g in summary["resources"]["generators"]}
    assert generators["worker-1"]["requests"] > 0 and generators["worker-2"]["requests"] > 0
    assert summary["workers"] == {"count": 2, "lost": []} and summary["total"]["failures"] == 0
    assert [w.returncode for w in runs["exact_workers"]] == [0, 0]  # both ended cleanly with the master


@pytest.mark.slow
@BOTH
def test_a_worker_killed_mid_run_is_reported_lost_and_the_master_finishes(ran: Ran) -> None:
    runs = ran[2]
    code, output = runs["results"]["kill"]
    assert code == 0, output[-3000:]
    summary = load_summary(runs["out"]["kill"])
    [lost] = summary["workers"]["lost"]
    assert "was lost" in output and summary["total"]["requests"] > 10 and not summary["partial"]
    survivor = [g for g in summary["resources"]["generators"] if g["name"].startswith("worker") and g["status"] == "ok"]
    assert len(survivor) == 1 and survivor[0]["requests"] > 0, summary["resources"]["generators"]
    assert lost["pid"] != survivor[0]["pid"] and runs["kill_workers"][0].returncode == 0
