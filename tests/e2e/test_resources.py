"""Resource series: generator and target CPU/RSS, scraped /metrics, GPU (or "no GPU"), thresholds in a real run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from load_tests.core.thresholds import check_resources
from load_tests.engine.resources import GpuSampler, ProcessSampler, PrometheusScraper, ResourceMonitor
from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, load_summary, run_cli

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)


def test_scraper_reads_gauges_and_turns_counters_into_rates(target: TargetInfo) -> None:
    scraper = PrometheusScraper(f"{target.http_url}/metrics", ["target_db_pool_size", "target_requests_total"])
    first = scraper.scrape(100.0)
    assert first == {"target_db_pool_size": 20.0}  # a counter needs two scrapes to have a rate
    for _ in range(10):
        requests.get(f"{target.http_url}/health", timeout=5).raise_for_status()
    second = scraper.scrape(102.0)  # 10 requests "over 2 s"
    assert second["target_requests_total"] == pytest.approx(5.0)
    assert scraper.kinds == {"target_db_pool_size": "gauge", "target_requests_total": "rate"}
    assert scraper.errors == 0


def test_a_dead_metrics_endpoint_is_counted_not_raised() -> None:
    scraper = PrometheusScraper("http://127.0.0.1:9/metrics", None, timeout_s=1.0)
    assert scraper.scrape(1.0) == {} and scraper.scrape(2.0) == {}
    assert scraper.errors == 2 and scraper.last_error


def test_process_sampler_follows_a_process_and_notices_its_end() -> None:
    code = "import time; data = bytearray(20_000_000); print('ready', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"  # running, 20 MB touched
        sampler = ProcessSampler(child.pid)
        cpu, rss_mb = sampler.sample() or (None, None)
        assert cpu is not None and cpu >= 0 and rss_mb is not None and 20 < rss_mb < 2000
    finally:
        child.kill()
        child.wait()
    assert sampler.sample() is None and "ended" in (sampler.gone_reason or "")
    assert ProcessSampler(2**22 + 12345).gone_reason  # no such pid: a reason, no exception


def test_no_gpu_here_is_reported_and_gpu_limits_are_not_checked() -> None:
    gpu = GpuSampler()
    assert gpu.available is False and gpu.reason.startswith("no GPU")  # this machine has no NVIDIA GPU
    assert gpu.sample() == {}
    monitor = ResourceMonitor(0.0, target_pid=None, metrics_url=None)
    monitor.sample(1.0)
    summary = {"resources": monitor.as_summary()}
    assert summary["resources"]["gpu"]["available"] is False and summary["resources"]["series"] == {}
    [verdict] = check_resources(summary, {"gpu*.utilization_pct": {"max": 90}})
    assert verdict.passed and verdict.reason == "not checked: no GPU"


def _charted(_: None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.yaml"
    config.write_text(
        "resources: {interval: 1s}\n"
        "thresholds:\n"
        "  resources:\n"
        "    target.cpu_percent: {max: 1000}\n"
        "    generator.*.rss_mb: {max: 1}\n"  # no Python process fits in 1 MB: must fail
    )
    return run_cli("--test-type", "rest", "--users", "10", "--spawn-rate", "10", "--duration", "8s",
                   "--config", str(config), "--output-dir", str(tmp_path / "out"))  # fmt: skip


@pytest.mark.slow
@pytest.mark.side_by_side(act=_charted, target=None, seconds=13)
def test_a_run_against_the_bundled_target_charts_generator_target_and_db_pool(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    res = summary["resources"]
    series = res["series"]
    for name in ("generator.local.cpu_percent", "generator.local.rss_mb", "target.cpu_percent", "target.rss_mb"):
        assert len(series[name]) >= 4, name  # 1 s interval over a run of about 10 s
    assert all(40 < rss < 2000 for _, rss in series["generator.local.rss_mb"])
    assert all(rss > 20 for _, rss in series["target.rss_mb"])
    assert res["target"]["status"] == "sampled" and res["target"]["pid"] > 0
    assert [v for _, v in series["metrics.target_db_pool_size"]] == [20.0] * len(series["metrics.target_db_pool_size"])
    pool = series["metrics.target_db_pool_in_use"]
    assert len(pool) >= 4 and all(0 <= v <= 20 for _, v in pool)
    assert max(v for _, v in series["metrics.target_requests_total"]) > 1  # requests per second while loaded
    assert res["metrics"]["errors"] == 0 and res["gpu"]["available"] is False
    assert res["generators"][0]["name"] == "local"
    assert res["generators"][0]["requests"] == summary["total"]["requests"] > 50
    verdicts = {(v["scope"], v["metric"]): v for v in summary["thresholds"]["verdicts"]}
    assert verdicts[("resource target.cpu_percent", "max")]["passed"]
    assert not verdicts[("resource generator.local.rss_mb", "max")]["passed"]
    run_dir = next((tmp_path / "out").glob("smoke/*"))
    assert (run_dir / "analysis" / "resources_over_time.png").stat().st_size > 10_000
    html = next(run_dir.glob("locust_report_*.html")).read_text()
    assert "<h2>Resources</h2>" in html and "no GPU" in html and "target_db_pool_in_use" in html
    text = (run_dir / "analysis" / "summary.txt").read_text()
    assert "GPU: no GPU" in text and "target" in text and "FAIL  resource generator.local.rss_mb" in text
