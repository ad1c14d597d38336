"""Settings -> the typed run plan that Locust's process reads (see :mod:`load_tests.core.plan`)."""

from __future__ import annotations

from pathlib import Path

from load_tests.core.plan import RunPlan
from load_tests.core.thresholds import merge_rules
from load_tests.launch.settings import Settings


def plan_from_settings(
    settings: Settings, run_dir: Path, timestamp: str, *, with_scenario: bool, from_runner: bool
) -> RunPlan:
    return RunPlan(
        run_dir=str(run_dir),
        timestamp=timestamp,
        scenario=settings.scenario if with_scenario else None,
        test_types=tuple(t.name for t in settings.test_types),
        services=settings.services,
        thresholds=merge_rules(settings.thresholds.model_dump(), settings.scenario.thresholds),
        features_csv=str(settings.features_csv),
        audio_dir=str(settings.audio_dir),
        progress_interval_s=settings.progress_interval_s,
        tags=settings.tags,
        exclude_tags=settings.exclude_tags,
        from_runner=from_runner,
        count_connections=settings.count_connections,
        scripted=settings.scripted.model_dump(),
        fleet={name: service.model_dump(by_alias=True) for name, service in settings.fleet.items()},
        worker_count=settings.distribution.workers,
        resources=settings.resources,
        validity=settings.validity,
        llm_slo=settings.llm_slo,
    )
