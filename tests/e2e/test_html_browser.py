"""The interactive HTML report in a real headless Chromium (Debian's ``chromium``, driven by Playwright) with the
network off: every chart is drawn or says in words why not, hovering a point shows that point's values,
dragging zooms, and the page asks nothing of the network. A screenshot goes to /tmp/report.png."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from load_tests.core.llm_metrics import Slo
from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.summary import build_summary, with_verdicts
from load_tests.core.thresholds import evaluate, merge_rules
from load_tests.core.timeline import Timeline
from load_tests.reporting import write_reports
from load_tests.reporting.interactive import charts_of
from tests.unit.test_llm_record import ROW, _llm

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)"),
    pytest.mark.beside_the_lane,  # what the page draws and says, not how fast: run beside the lane (tests/conftest.py)
]
START = 1_700_000_000.0


def _summary(failing: bool) -> dict[str, Any]:
    """30 s of two endpoints and a token stream through the harness's recorder and timeline; slow at 13..15 s."""
    rng, now = random.Random(4), [START]
    recorder = Recorder(lambda: now[0], llm_slo=Slo(ttft_ms=500))
    timeline = Timeline(START, None)
    for second in range(30):
        timeline.note_users(START + 1 + second, min(10, 2 + second))
        for i in range(40):
            now[0] = START + 1 + second + i / 40  # from 1 s in: every stream starts after the run did
            slow = 40.0 if 12 <= second < 15 else 0.0
            error = Failure("HTTP 500") if failing and second in (20, 21) and i % 4 == 0 else None
            recorder.record("POST", "/predict", rng.uniform(8, 14) + slow, 10, error)
            recorder.record("GET", "/health", rng.uniform(0.5, 1.5), 10, None)
            if i % 10 == 0:  # a token stream every 0.25 s, through the recorder as the request hook feeds it
                context = _llm(rng.uniform(80, 600), 20.0, 10)
                recorder.record(*ROW, context["llm"]["e2e_ms"], 0, None, context)
    timeline.add_seconds(recorder.drain_seconds(int(START) + 32), START + 31)
    timeline.add_endpoint_buckets(recorder.drain_endpoint_buckets(int(START + 32) // 5 + 1), START + 31)
    points, endpoint_points = timeline.as_lists()
    cpu = [[float(t), 20.0 + t] for t in range(0, 30, 2)]
    rss = [[float(t), 80.0] for t in range(0, 30, 2)]
    meta = {"scenario": {"name": "smoke", "profile": "normal", "stages": []}, "test_types": ["rest"],
            "partial": False, "services": {}, "started_at": "2026-11-30T02:00:00Z", "ended_at": "x",
            "timeline": points, "endpoint_timeline": endpoint_points,
            "resources": {"interval_s": 2.0, "series": {"generator.local.cpu_percent": cpu,
                                                        "generator.local.rss_mb": rss},
                          "stats": {}, "generators": [], "target": None, "metrics": None,
                          "gpu": {"available": False, "reason": "no GPU", "devices": []}}}  # fmt: skip
    summary = build_summary(recorder, meta, 30.0)
    return with_verdicts(summary, evaluate(summary, merge_rules({"p95_ms": 500}, {})))


def _open(page: Any, path: Path) -> list[str]:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_function("window.loadtestCharts !== undefined && document.querySelectorAll('section.chart').length")
    return asked


def _inked(page: Any, chart_id: str) -> int:
    """Pixels the chart's canvas has drawn on (not transparent)."""
    return page.evaluate("""id => { const c = document.querySelector(`section[data-chart="${id}"] canvas`);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""", chart_id)  # fmt: skip


@pytest.mark.beside_the_lane  # renders a report made here: no load, no speed
def test_every_chart_renders_offline_and_hover_shows_the_value(tmp_path: Path) -> None:
    summaries = {"failing": _summary(failing=True), "clean": _summary(failing=False)}
    for name, summary in summaries.items():
        write_reports(summary, tmp_path / name, "ts")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 1000})
        context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())  # only the file itself may load
        for name, summary in summaries.items():
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, seen=errors: seen.append(str(exc)))
            asked = _open(page, tmp_path / name / "locust_report_ts.html")
            for chart in charts_of(summary):
                section = page.locator(f'section[data-chart="{chart["id"]}"]')
                if chart["empty"]:
                    assert section.locator("p.empty").inner_text() == chart["empty"], chart["id"]
                else:
                    assert section.locator("canvas").count() == 1 and _inked(page, chart["id"]) > 2000, chart["id"]
            assert not errors and asked == [(tmp_path / name / "locust_report_ts.html").as_uri()], (errors, asked)
            total = summary["total"]
            assert page.locator("#overview").inner_text().split("\n")[:6] == [
                f"{total['requests']:,}",
                "requests",
                f"{total['error_rate_pct']:.2f} %",
                f"error rate ({total['failures']} failed)",
                f"{total['p95_ms']:.1f} ms",
                "p95, all requests",
            ]
            llm, ttft = page.locator("#llm").inner_text(), summary["llm"]["ttft_ms"]
            assert f"{ttft['p50']:,.1f} / {ttft['p95']:,.1f}" in llm and "met every SLO" in llm and "ttft_ms 500" in llm
            if name == "failing":
                _hover_and_zoom(page, summary)
                page.screenshot(path="/tmp/report.png", full_page=False)
                shutil.copy("/tmp/report.png", tmp_path / "report.png")
            else:
                assert page.locator('section[data-chart="errors"] p.empty').count() == 1
        browser.close()


def _js_fmt(value: float) -> str:
    """The figure as charts.js prints it: 2 decimals under 10, 1 under 100, none above."""
    return f"{value:.{2 if abs(value) < 10 else 1 if abs(value) < 100 else 0}f}"


def _hover_and_zoom(page: Any, summary: dict[str, Any]) -> None:
    latency = next(c for c in charts_of(summary) if c["id"] == "latency")
    over = page.locator('section[data-chart="latency"] .u-over')
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] / 2)
    index = page.evaluate("window.loadtestCharts.latency.cursor.idx")
    tip = page.locator('section[data-chart="latency"] .chart-tip').inner_text()
    t, p50, p95 = latency["x"][index], latency["series"][0]["values"][index], latency["series"][1]["values"][index]
    assert re.search(rf"^t = {t:.1f} s$", tip, re.M), tip
    shown = float(re.search(r"^p95: ([\d.]+) ms$", tip, re.M).group(1))  # type: ignore[union-attr]
    assert shown == pytest.approx(p95, abs=0.051) and f"p50: {_js_fmt(p50)} ms" in tip, (tip, p50, p95)
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 20, steps=5)
    page.mouse.up()
    low, high = page.evaluate(
        "[window.loadtestCharts.latency.scales.x.min, window.loadtestCharts.latency.scales.x.max]"
    )
    assert 5 < low < high < 25 and high - low < 15, (low, high)  # zoomed into the middle third of 30 s
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] / 2)  # hover again for the screenshot
