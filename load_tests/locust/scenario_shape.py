"""Locustfile that contributes only the scenario shape; the runner loads it beside the protocol files.

Kept apart so each protocol locustfile still runs alone under ``locust -f`` with the web UI, where
the user picks users and spawn rate by hand.
"""

from __future__ import annotations

from load_tests.engine.harness import install
from load_tests.engine.shapes import ScenarioShape

install()
__all__ = ["ScenarioShape"]
