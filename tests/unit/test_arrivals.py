"""Poisson, gamma and trace arrivals: the right distributions, reproducible, split exactly across workers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from load_tests.core import arrivals
from load_tests.core.errors import ConfigError
from load_tests.core.scenarios import Arrival
from load_tests.launch.settings import load_settings
from tests.ks import exponential_cdf, passes_ks_5pct

POISSON = Arrival("constant_arrival_rate", 20.0, ((300.0, 20.0),), 50, process="poisson", seed=7)


def _times(arrival: Arrival) -> list[float]:
    times, k = [], 0
    while (t := arrival.time_of(k)) is not None:
        times.append(t)
        k += 1
    return times


def test_poisson_gaps_pass_a_ks_test_and_constant_gaps_do_not() -> None:
    times = _times(POISSON)
    assert 5600 < len(times) < 6400  # 20/s for 300 s, across more than one chunk of draws
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / 20, rel=0.05)
    assert passes_ks_5pct(gaps, exponential_cdf(20.0))
    assert not passes_ks_5pct(np.diff(_times(replace(POISSON, process="constant"))), exponential_cdf(20.0))
    assert not passes_ks_5pct(gaps, exponential_cdf(30.0))  # the test can tell a wrong rate


def test_a_ramp_is_the_inhomogeneous_process() -> None:
    ramp = Arrival("ramping_arrival_rate", 5.0, ((60.0, 50.0), (30.0, 50.0)), 50, process="poisson", seed=3)
    times = _times(ramp)
    assert len(times) == pytest.approx(ramp.count_until(90.0), rel=0.05)
    # mapped through the scheduled count, the arrivals are a unit-rate Poisson process again
    unit = np.diff([ramp.count_until(t) for t in times])
    assert passes_ks_5pct(unit, exponential_cdf(1.0))
    early, late = sum(t < 30 for t in times), sum(60 <= t < 90 for t in times)
    assert early == pytest.approx(ramp.count_until(30.0), rel=0.15) and late == pytest.approx(1500, rel=0.1)


@pytest.mark.parametrize("burstiness", [0.25, 1.0, 4.0])
def test_gamma_gaps_have_the_coefficient_of_variation_of_their_burstiness(burstiness: float) -> None:
    arrival = Arrival("constant_arrival_rate", 100.0, ((200.0, 100.0),), 50, process="gamma",
                      burstiness=burstiness, seed=11)  # fmt: skip
    gaps = np.diff(_times(arrival))
    assert gaps.mean() == pytest.approx(0.01, rel=0.05)  # the rate is kept whatever the burstiness
    assert gaps.std() / gaps.mean() == pytest.approx(1 / np.sqrt(burstiness), rel=0.06)


def test_every_process_computes_the_same_schedule_and_workers_split_it_exactly() -> None:
    first = _times(POISSON)[:5000]
    arrivals._sequence.cache_clear()  # another process: nothing cached
    again = [POISSON.time_of(k) for k in range(4999, -1, -1)][::-1]  # looked up in another order
    assert again == first
    assert _times(replace(POISSON, seed=8))[:10] != first[:10]
    shares = [[POISSON.time_of(k) for k in range(i, 5000, 3)] for i in range(3)]
    assert sorted(t for share in shares for t in share) == first  # every iteration once
    for t in (0.0, 0.001, 10.0, 123.4567, 250.0):
        assert POISSON.scheduled_until(t) == sum(1 for x in first if x < t)
    assert POISSON.scheduled_between(10.0, 20.0) == sum(1 for x in first if 10.0 <= x < 20.0)


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_trace_sets_the_schedule_and_its_duration_cuts_it(tmp_path: Path) -> None:
    lines = ['{"offset_s": 0, "input_tokens": 5, "output_tokens": 2}', '{"offset_s": 0.25, "input_tokens": 7}', "",
             '{"offset_s": 1.5}']  # fmt: skip
    trace = _write(tmp_path / "t.jsonl", lines)
    arrival = Arrival("trace", 2.0, ((1.501, 2.0),), 10, process="trace", trace=trace)
    assert _times(arrival) == [0.0, 0.25, 1.5]
    assert arrival.scheduled_between(0.0, 1.0) == 2 and arrival.scheduled_until(100.0) == 3
    assert _times(replace(arrival, stages=((1.0, 2.0),))) == [0.0, 0.25]
    rows = arrivals.load_trace(trace)
    assert rows[1] == arrivals.TraceRow(0.25, 7, None)
    mooncake = ['{"timestamp": 27482, "input_length": 6955, "output_length": 52}',
                '{"timestamp": 30535, "input_length": 6472, "output_length": 26}']  # fmt: skip
    stamped = _write(tmp_path / "m.jsonl", mooncake)
    assert arrivals.load_trace(stamped)[1] == arrivals.TraceRow(pytest.approx(3.053), 6472, 26)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"offset_s": 1}', "{oops"], "t.jsonl line 2: not JSON"),
        (['{"offset_s": 1}', '{"offset_s": 0.5}'], "t.jsonl line 2: offset 0.5s comes before the previous row's"),
        (['{"input_tokens": 3}'], "t.jsonl line 1: needs offset_s (seconds from the start) or timestamp"),
        (['{"offset_s": 0, "output_tokens": -1}'], "t.jsonl line 1: output_tokens must be a whole number >= 0"),
        (['{"offset_s": "soon"}'], "t.jsonl line 1: the offset must be a number >= 0"),
        (["[1, 2]"], "t.jsonl line 1: each line must be a JSON object"),
        ([""], "t.jsonl: the trace has no rows"),
    ],
)
def test_bad_traces_name_the_file_line_and_field(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")):
        arrivals.load_trace(_write(tmp_path / "t.jsonl", lines))


def test_arrival_processes_and_traces_from_yaml_and_flags(tmp_path: Path) -> None:
    _write(tmp_path / "trace.jsonl", ['{"offset_s": 0}', '{"offset_s": 0.1}', '{"offset_s": 2}'])
    config = tmp_path / "c.yaml"
    config.write_text(
        "scenarios:\n"
        "  poisson: {kind: constant_arrival_rate, rate: 20, duration: 30s, arrival: poisson, seed: 5}\n"
        "  bursty: {kind: ramping_arrival_rate, stages: [{duration: 10s, target: 50}], arrival: gamma,"
        " burstiness: 0.5}\n"
        "  replay: {kind: trace, trace: trace.jsonl}\n"
    )
    cli = {"config": str(config)}
    poisson = load_settings({**cli, "scenario": "poisson"}, env={}).scenario.arrival
    assert poisson is not None and (poisson.process, poisson.seed, poisson.burstiness) == ("poisson", 5, 1.0)
    bursty = load_settings({**cli, "scenario": "bursty"}, env={}).scenario.arrival
    assert bursty is not None and (bursty.process, bursty.burstiness) == ("gamma", 0.5)
    replay = load_settings({**cli, "scenario": "replay"}, env={}).scenario.arrival
    assert replay is not None and replay.trace == str(tmp_path / "trace.jsonl") and replay.max_users == 10
    assert replay.duration_s == pytest.approx(2.001) and replay.scheduled_until(10) == 3
    flagged = load_settings({**cli, "scenario": "poisson", "rate": "40"}, env={}).scenario.arrival
    assert flagged is not None and (flagged.process, flagged.seed, flagged.peak_rate) == ("poisson", 5, 40.0)
    gamma = load_settings({"rate": "10", "arrival": "gamma", "burstiness": "2"}, env={}).scenario.arrival
    assert gamma is not None and (gamma.process, gamma.burstiness) == ("gamma", 2.0)


@pytest.mark.parametrize(
    ("yaml_text", "cli", "message"),
    [
        ("{kind: constant_arrival_rate, rate: 5, duration: 5s, burstiness: 2}", {},
         "scenarios.s: burstiness is only for arrival: gamma"),
        ("{kind: trace}", {}, "scenarios.s: kind trace needs trace:"),
        ("{kind: trace, trace: missing.jsonl}", {}, "scenarios.s.trace: "),
        ("{kind: trace, trace: t.jsonl, rate: 3}", {}, "a trace sets its own times"),
        ("{users: 2, spawn_rate: 1, duration: 5s, arrival: poisson}", {}, "are for arrival-rate kinds"),
        ("{users: 2, spawn_rate: 1, duration: 5s}", {"arrival": "poisson"}, "--arrival: only for arrival-rate load"),
        ("{kind: constant_arrival_rate, rate: 5, duration: 5s}", {"arrival": "pareto"},
         "--arrival: 'pareto' is not an arrival process (choose from constant, poisson, gamma)"),
        ("{kind: constant_arrival_rate, rate: 5, duration: 5s}", {"burstiness": "2"},
         "--burstiness: only with --arrival gamma"),
        ("{kind: trace, trace: t.jsonl}", {"rate": "3"}, "--rate: a trace scenario sets its own times"),
    ],
)  # fmt: skip
def test_bad_arrival_settings_name_the_key_or_flag(tmp_path: Path, yaml_text: str, cli: dict, message: str) -> None:
    _write(tmp_path / "t.jsonl", ['{"offset_s": 0}'])
    config = tmp_path / "c.yaml"
    config.write_text(f"scenarios:\n  s: {yaml_text}\n")
    with pytest.raises(ConfigError) as info:
        load_settings({"config": str(config), "scenario": "s", **cli}, env={})
    assert message in str(info.value) and "\n" not in str(info.value)
