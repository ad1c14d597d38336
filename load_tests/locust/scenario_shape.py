"""Locustfile that contributes only the scenario shape; the runner loads it beside the protocol files.

Kept apart so each protocol locustfile still runs alone under ``locust -f`` with the web UI, where
the user picks users and spawn rate by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `locust -f` from any folder finds load_tests

from load_tests.harness import install
from load_tests.shapes import ScenarioShape

install()
__all__ = ["ScenarioShape"]
