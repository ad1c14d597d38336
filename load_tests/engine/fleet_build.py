"""The plan's fleet -> one Locust user class per service, by protocol."""

from __future__ import annotations

import os
from typing import Any

from pydantic import TypeAdapter

from load_tests.core.fleet import Service, class_name_of
from load_tests.core.plan import RunPlan
from load_tests.core.templates import Template

_SERVICES = TypeAdapter(dict[str, Service])


def fleet_user_classes(plan: RunPlan) -> dict[str, type]:
    """``{class name: user class}`` for every service of the plan's fleet (locustfile services excepted:
    their own file defines their classes)."""
    services = _SERVICES.validate_python(plan.fleet)
    classes: dict[str, type] = {}
    for name, config in services.items():
        builder = _builder(config.protocol)
        if builder is not None:
            config = _addressed(name, config)
            classes[class_name_of(name)] = builder(name, class_name_of(name), config, plan.worker_count)
    return classes


def _addressed(name: str, config: Any) -> Any:
    """The service with ``${NAME}`` in its address filled from the environment (``url: ${API_URL}``)."""
    changes = {}
    for key in ("url", "target"):
        value = getattr(config, key, None)
        if value and "${" in value:
            where = f"fleet.{name}.{key}"
            changes[key] = str(Template.compile(value, where).with_env(os.environ, where).render({}))
    return config.model_copy(update=changes) if changes else config


def _builder(protocol: str) -> Any:
    if protocol == "http":
        from load_tests.engine.fleet_http import http_user

        return http_user
    if protocol == "websocket":
        from load_tests.engine.fleet_websocket import websocket_user

        return websocket_user
    if protocol == "socketio":
        from load_tests.engine.fleet_socketio import socketio_user

        return socketio_user
    if protocol == "grpc":
        from load_tests.engine.fleet_grpc import grpc_user

        return grpc_user
    if protocol == "openai":
        from load_tests.engine.fleet_openai import openai_user

        return openai_user
    return None
