"""Users of the YAML's ``fleet:`` section: every service a team runs, described as data.

Run through the runner (``--test-type NAME`` or ``all`` with a config that has a fleet); each
service becomes one user class, ``Fleet_<name>``. ``locust -f load_tests/locust/fleet.py`` with
``LOADTEST_CONFIG`` naming the YAML runs the whole fleet with Locust's web UI.
"""

from __future__ import annotations

from load_tests.clients.grpc_client import init_gevent_once

init_gevent_once()  # before any channel exists, or grpcio hangs under gevent

from load_tests.engine.fleet_build import fleet_user_classes  # noqa: E402
from load_tests.engine.harness import install  # noqa: E402
from load_tests.engine.plan_source import current_plan  # noqa: E402

install()
globals().update(fleet_user_classes(current_plan()))
