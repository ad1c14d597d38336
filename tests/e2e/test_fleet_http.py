"""A team's HTTP services from the config alone: operations, a Parquet feed, checks, a flow, their locustfile."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from load_tests.reference_service import model
from load_tests.reference_service.launcher import TargetInfo, set_faults
from tests.conftest import Ran, load_summary, metric, run_cli, served

pytestmark = pytest.mark.slow
ROWS = 40
INVOCATION = {"protocol": "http", "endpoint": "/invocation"}


def _rows(n: int = ROWS) -> list[dict]:
    """Feature rows with the label the reference model gives them, all distinct."""
    rows = []
    for i in range(n):
        features = [50.0 + i, 1.0 + (i % 9), 2.0 + (i % 7) * 0.5, 20.0 + (i * 3) % 80]
        rows.append({**dict(zip(model.FEATURES, features, strict=True)), "label": model.classify(features)[0]})
    return rows


def _run(config: Path, out: Path, *args: str) -> tuple[int, dict, str]:
    result = run_cli("--config", str(config), "--output-dir", str(out), *args)
    summary = load_summary(out) if result.returncode in (0, 1) else {}
    return result.returncode, summary, result.stdout + result.stderr


def _rows_by_name(summary: dict) -> dict[str, dict]:
    return {r["name"]: r for r in summary["endpoints"]}


def _unique_parquet_feed(target: TargetInfo, tmp_path: Path) -> tuple[int, dict, str]:
    pq.write_table(pa.Table.from_pylist(_rows()), tmp_path / "pumps.parquet")
    config = tmp_path / "fleet.yaml"
    config.write_text(f"""
fleet:
  pumps:
    protocol: http
    url: {target.http_url}
    data: {{file: pumps.parquet, order: unique}}
    operations:
      - name: invocation
        method: POST
        path: /invocation
        query: {{method: predict}}
        parquet: "{{{{ row }}}}"
        weight: 3
        checks:
          - status: 200
          - json: $.predictions[0]
            equals: "{{{{ row.label }}}}"
      - name: health
        path: /health
        checks:
          - json: $.status
            equals: down
""")
    return _run(config, tmp_path / "out", "--users", "4", "--spawn-rate", "4", "--duration", "5s")


@pytest.mark.side_by_side(act=_unique_parquet_feed)
def test_operations_with_a_unique_parquet_feed_and_checks(ran: Ran) -> None:
    """Each Parquet row is sent exactly once (the service counts distinct rows); checks pass, and one
    that is wrong on purpose fails every call, named by the check."""
    target, _, (code, summary, output) = ran
    assert code == 1, output[-3000:]  # the health check fails on purpose
    rows = _rows_by_name(summary)
    invocation, health = rows["invocation"], rows["health"]
    assert invocation["requests"] == ROWS and invocation["failures"] == 0
    assert metric(target.http_url, "target_rows_total", **INVOCATION) == ROWS
    assert metric(target.http_url, "target_distinct_rows", **INVOCATION) == ROWS
    assert served(target.http_url, "http")["/invocation"] == ROWS
    assert health["requests"] >= 1 and health["failures"] == health["requests"]
    assert health["failures_by_type"] == {'check failed: $.status == "down" (got "ok")': health["requests"]}
    assert summary["finished_early"] is None and summary["duration_s"] > 4.5  # health draws no row: it goes on


def _two_workers(target: TargetInfo, tmp_path: Path) -> tuple[int, dict, str]:
    pq.write_table(pa.Table.from_pylist(_rows()), tmp_path / "pumps.parquet")
    config = tmp_path / "fleet.yaml"
    config.write_text(f"""
fleet:
  pumps:
    protocol: http
    url: {target.http_url}
    data: {{file: pumps.parquet, order: unique}}
    operations:
      - {{name: invocation, method: POST, path: /invocation, query: {{method: predict}}, parquet: "{{{{ row }}}}"}}
""")
    return _run(config, tmp_path / "out", "--workers", "2", "--users", "4", "--spawn-rate", "4",
                "--duration", "60s")  # fmt: skip


@pytest.mark.side_by_side(act=_two_workers, weight=2, seconds=16)
def test_each_row_once_across_two_workers_then_the_run_ends(ran: Ran) -> None:
    """Every call draws a row of the unique feed: once both workers have sent their share, the master ends
    the run, complete, instead of idling until the 60 s cap."""
    target, _, (code, summary, output) = ran
    assert code == 0, output[-3000:]
    assert "Every row of the unique feeds was sent (on every worker): ending the run" in output
    assert summary["finished_early"] == "every row of the unique feeds was sent" and summary["partial"] is False
    assert summary["duration_s"] < 30  # 40 rows; the workers report every 3 s
    assert _rows_by_name(summary)["invocation"]["requests"] == ROWS
    assert metric(target.http_url, "target_distinct_rows", **INVOCATION) == ROWS
    assert metric(target.http_url, "target_rows_total", **INVOCATION) == ROWS
    workers = [g for g in summary["resources"]["generators"] if g["role"] == "worker"]
    assert len(workers) == 2 and all(w["requests"] > 0 for w in workers)


def _two_services_two_workers(target: TargetInfo, tmp_path: Path) -> tuple[int, dict, str]:
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in _rows(20)) + "\n")
    service = """\
    protocol: http
    url: {url}
    data: {{file: rows.jsonl, order: unique}}
    operations:
      - {{name: {name}, method: POST, path: /invocation, query: {{method: predict}}, parquet: "{{{{ row }}}}"}}
"""
    config = tmp_path / "fleet.yaml"
    config.write_text("fleet:\n" + "".join(f"  {n}:\n" + service.format(url=target.http_url, name=n) for n in "ab"))
    return _run(config, tmp_path / "out", "--workers", "2", "--users", "2", "--spawn-rate", "2", "--duration", "8s")


@pytest.mark.side_by_side(act=_two_services_two_workers, weight=2, seconds=14)
def test_rows_of_a_service_on_a_worker_without_its_users_keep_the_run_going(ran: Ran) -> None:
    """Two users on two workers: Locust gives each worker the users of one service, yet each worker holds
    half of both services' rows. The rows a worker has no user for are never sent, so the run must not
    claim that every row was sent: it runs to its length."""
    _, _, (code, summary, output) = ran
    assert code == 0, output[-3000:]
    assert summary["finished_early"] is None and "Every row of the unique feeds was sent" not in output
    assert summary["duration_s"] > 7
    sent = {row["name"]: row["requests"] for row in summary["endpoints"]}
    assert 0 < sent["a"] <= 20 and 0 < sent["b"] <= 20 and sent["a"] + sent["b"] < 40, sent


def _jsonl_fleet(target: TargetInfo, tmp_path: Path, service: str, rows: int, order: str, rest: str) -> Path:
    """A fleet of one HTTP service on the target, fed ``rows`` JSON Lines rows; ``rest`` is its YAML after
    ``data:``."""
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in _rows(rows)) + "\n")
    config = tmp_path / "fleet.yaml"
    head = f"fleet:\n  {service}:\n    protocol: http\n    url: {target.http_url}\n"
    config.write_text(head + f"    data: {{file: rows.jsonl, order: {order}}}\n" + rest)
    return config


def _used_up_flow(target: TargetInfo, tmp_path: Path) -> tuple[int, dict, str]:
    config = _jsonl_fleet(
        target,
        tmp_path,
        "pumps",
        25,
        "unique",
        """\
    think_time: 0.05s
    flow:
      - {name: health, path: /health}
      - {name: invocation, method: POST, path: /invocation, query: {method: predict}, parquet: "{{ row }}"}
""",
    )
    return _run(config, tmp_path / "out", "--users", "3", "--spawn-rate", "3", "--duration", "60s")


@pytest.mark.side_by_side(act=_used_up_flow, seconds=8)
def test_a_flow_ends_the_run_when_its_unique_feed_is_used_up(ran: Ran) -> None:
    """A flow draws one row per iteration: 25 rows make 25 iterations, then the run ends by itself (the 60 s
    is a cap), with every report and the reason in them."""
    target, out, (code, summary, output) = ran
    assert code == 0, output[-3000:]
    assert "Every row of the unique feeds was sent (pumps): ending the run" in output
    assert summary["finished_early"] == "every row of the unique feeds was sent" and summary["partial"] is False
    assert summary["duration_s"] < 20
    rows = _rows_by_name(summary)
    assert rows["invocation"]["requests"] == rows["health"]["requests"] == 25
    assert metric(target.http_url, "target_distinct_rows", **INVOCATION) == 25
    assert served(target.http_url, "http") == {"/health": 25, "/invocation": 25}
    run_dir = next((out / "out").glob("*/*"))
    assert "[ENDED EARLY: every row of the unique feeds was sent]" in (run_dir / "analysis" / "summary.txt").read_text()
    assert "> Ended early: every row of the unique feeds was sent" in (run_dir / "summary.md").read_text()


def _session_flow(target: TargetInfo, tmp_path: Path) -> tuple[int, dict, str]:
    config = _jsonl_fleet(
        target,
        tmp_path,
        "gateway",
        10,
        "sequential",
        """\
    think_time: 0.1s
    flow:
      - {name: login, method: POST, path: /login, json: {user: "{{ id }}"}, capture: {token: $.token}}
      - name: open
        method: POST
        path: /sessions
        headers: {Authorization: "Bearer {{ vars.token }}"}
        capture: {session: $.session_id}
      - name: predict
        method: POST
        path: "/sessions/{{ vars.session }}/predict"
        json: "{{ row }}"
        checks: [{json: $.label, equals: "{{ row.label }}"}]
      - {name: close, method: DELETE, path: "/sessions/{{ vars.session }}", checks: [{status: 204}]}
""",
    )
    return _run(config, tmp_path / "out", "--users", "3", "--spawn-rate", "3", "--duration", "4s")


@pytest.mark.side_by_side(act=_session_flow, seconds=8)
def test_a_flow_captures_a_session_and_uses_it(ran: Ran) -> None:
    """log in -> open a session -> predict in it -> close it; the service refuses calls without a session."""
    target, _, (code, summary, output) = ran
    assert code == 0, output[-3000:]
    rows = _rows_by_name(summary)
    counts = {name: rows[name]["requests"] for name in ("login", "open", "predict", "close")}
    assert summary["total"]["failures"] == 0 and counts["login"] >= 3
    assert counts["login"] == counts["open"] == counts["predict"] == counts["close"], counts
    target_counts = served(target.http_url, "http")
    assert target_counts["/sessions/{id}/predict"] == counts["predict"]
    assert metric(target.http_url, "target_errors_total", protocol="http", endpoint="/sessions/{id}/predict",
                  kind="no_session") == 0  # fmt: skip


def _teams_locustfile(target: TargetInfo, tmp_path: Path) -> tuple[tuple[int, dict, str], dict, tuple[int, dict, str]]:
    """The run of every user class, what the service served for it, and the run of one class."""
    users = tmp_path / "my_users.py"
    users.write_text(
        "from locust import HttpUser, constant, task\n\n\n"
        "class Base(HttpUser):\n    abstract = True\n    wait_time = constant(0.1)\n\n\n"
        "class HealthUser(Base):\n    @task\n    def health(self):\n        self.client.get('/health')\n\n\n"
        "class InfoUser(Base):\n    @task\n    def info(self):\n        self.client.get('/model-info')\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text("thresholds: {min_rps: 100000}\n")  # no 2-user run reaches this: exit 1
    args = ("--locustfile", str(users), "--host", target.http_url, "--users", "2", "--spawn-rate", "2",
            "--duration", "3s")  # fmt: skip
    every_class = _run(config, tmp_path / "out", *args)
    served_for_it = served(target.http_url, "http")
    return every_class, served_for_it, _run(config, tmp_path / "out2", *args, "--user-classes", "HealthUser")


@pytest.mark.side_by_side(act=_teams_locustfile, seconds=14)
def test_a_teams_own_locustfile_gets_summary_thresholds_and_exit_code(ran: Ran) -> None:
    _, _, ((code, summary, output), served_for_it, one_class) = ran
    assert code == 1, output[-3000:]
    rows = _rows_by_name(summary)
    assert rows["/health"]["requests"] > 0 and rows["/model-info"]["requests"] > 0
    assert summary["test_types"] == ["my_users"]
    assert summary["total"]["requests"] == sum(served_for_it.values())
    verdict = next(v for v in summary["thresholds"]["verdicts"] if "rps" in v["metric"])
    assert not verdict["passed"]
    code, summary, output = one_class
    assert "/model-info" not in _rows_by_name(summary) and code == 1, output[-3000:]


def _bad_fleet(target: TargetInfo, tmp_path: Path, fleet: str, env: dict) -> subprocess.CompletedProcess[str]:
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    config = tmp_path / "bad.yaml"
    config.write_text("fleet:\n" + fleet.replace("URL", target.http_url) + "\n")
    return run_cli("--config", str(config), "--output-dir", str(tmp_path / "out"),
                   "--users", "1", "--spawn-rate", "1", "--duration", "4s", env=env)  # fmt: skip


@pytest.mark.parametrize(
    ("fleet", "env", "message"),
    [
        ("  svc: {protocol: http, url: URL, operations: [{path: /health, colour: red}]}",
         {}, "fleet.svc.operations[0].colour: unknown key"),
        ("  svc: {protocol: http, url: URL, data: {file: nowhere.csv}, operations: [{path: /health}]}",
         {}, "fleet.svc.data: "),
        ("  svc: {protocol: http, url: URL, operations: [{path: /health, checks: [{json: '$..x'}]}]}",
         {}, "fleet.svc.operations[0].checks[0]"),
        ("  svc: {protocol: http, url: URL, data: {file: rows.csv}, operations: [{path: '/p/{{ row.nope }}'}]}",
         {}, "the feed has no column 'nope'"),
        ("  svc: {protocol: http, url: URL, headers: {X-Key: '${NOT_SET_HERE}'}, operations: [{path: /health}]}",
         {}, "${NOT_SET_HERE} is not set"),
    ],
)  # fmt: skip
@pytest.mark.side_by_side(act=_bad_fleet, seconds=1)
def test_bad_fleet_configs_are_one_line_and_send_nothing(ran: Ran, fleet: str, env: dict, message: str) -> None:
    target, tmp_path, result = ran
    config = tmp_path / "bad.yaml"
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(config) in lines[0], lines
    assert sum(served(target.http_url).values()) == 0 and not (tmp_path / "out").exists()


def _paced_fleet(target: TargetInfo, tmp_path: Path) -> tuple[int, dict, str]:
    config = tmp_path / "fleet.yaml"
    config.write_text(f"""
fleet:
  api:
    protocol: http
    url: {target.http_url}
    think_time: 5s                      # ignored under an arrival rate: the schedule decides
    operations:
      - {{name: health, path: /health, checks: [{{json: $.status, equals: ok}}]}}
""")
    return _run(config, tmp_path / "out", "--rate", "20", "--max-users", "5", "--duration", "4s")


# In the lane: five users for 20 quick calls a second keep the schedule on a busy machine, and the rate
# is judged over the run's own traffic window.
@pytest.mark.side_by_side(act=_paced_fleet, seconds=9)
def test_open_model_pacing_drives_fleet_operations(ran: Ran) -> None:
    """An arrival rate starts the fleet's operations on schedule, as it does the bundled users'."""
    target, _, (code, summary, output) = ran
    assert code == 0, output[-3000:]
    pacing = summary["pacing"]
    assert pacing["planned"] == 80 and pacing["started"] == 80 and pacing["dropped"] == 0
    assert _rows_by_name(summary)["health"]["requests"] == 80 == served(target.http_url, "http")["/health"]
    assert summary["total"]["rps"] == pytest.approx(20.0, rel=0.02)


def test_an_operation_with_its_own_timeout_times_out_alone(target: TargetInfo, tmp_path: Path) -> None:
    set_faults(target.http_url, extra_delay_ms=400)
    config = tmp_path / "fleet.yaml"
    config.write_text(f"""
fleet:
  api:
    protocol: http
    url: {target.http_url}
    timeout: 5s
    operations:
      - {{name: quick, path: /health, timeout: 0.2s}}
      - {{name: patient, path: /health}}
""")
    code, summary, output = _run(config, tmp_path / "out", "--users", "2", "--spawn-rate", "2", "--duration", "3s")
    assert code == 1, output[-3000:]
    rows = _rows_by_name(summary)
    quick, patient = rows["quick"], rows["patient"]
    assert quick["requests"] > 0 and quick["failures_by_type"] == {"timeout": quick["requests"]}
    assert 190 <= quick["max_ms"] < 300
    assert patient["requests"] > 0 and patient["failures"] == 0 and patient["min_ms"] >= 400
