"""The fleet's services as Locust users: what every protocol shares.

One :class:`ServiceRuntime` per service and process holds what was compiled from the config once
(templates with the environment's ``${NAME}`` filled in, checks, captures) and the data feed that
every user of the service in this process draws from. :class:`FleetUser` is the protocol-neutral
part of a user: a row per iteration, the user's captured ``vars``, a fresh ``id`` per call, checks
and captures on each reply, think time, and the tasks built from ``operations`` (weighted, tagged)
or from a ``flow`` (every step in order, one row for the whole iteration, stopped at the first
failed step, whose failure already says why). Each protocol module adds how a step is sent.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import User, between, constant, tag
from locust.runners import WorkerRunner

from load_tests.core.checks import CompiledCheck, JsonPath, Reply, compile_captures, take_captures
from load_tests.core.feeds import Feed, feed_for, load_rows
from load_tests.core.fleet import Step, steps_of
from load_tests.core.templates import Template

IDLE_S = 1.0  # a user whose unique feed is used up waits this long before it looks again (until the run ends)


@dataclass
class CompiledStep:
    """One operation or flow step, compiled: its templates (by field), checks and captures."""

    config: Step
    name: str
    templates: dict[str, Template]
    checks: list[CompiledCheck]
    captures: dict[str, JsonPath]
    has_status_check: bool = False
    uses_row: bool = False  # only steps that name {{ row... }} draw from the feed (a unique feed is not wasted)

    def render(self, key: str, context: Mapping[str, Any]) -> Any:
        template = self.templates.get(key)
        return template.render(context) if template is not None else None


@dataclass
class ServiceRuntime:
    """A service of the fleet in this process: its compiled steps and its shared feed."""

    name: str
    config: Any
    steps: list[CompiledStep]
    flow: bool
    rows: list[dict[str, Any]] | None = None
    worker_count: int = 1
    feed: Feed | None = None
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def feed_of(self, environment: Any) -> Feed | None:
        """The feed, made at the first draw: only then does a worker know its index among the workers."""
        if self.feed is None and self.rows is not None:
            runner = environment.runner
            share = (runner.worker_index, self.worker_count) if isinstance(runner, WorkerRunner) else (0, 1)
            self.feed = feed_for(self.config.data, self.rows, share)
        return self.feed

    def rows_left(self, environment: Any, task_names: set[str]) -> int | None:
        """Rows of this process's share of a ``unique`` feed that stops not yet handed out; None when the
        service's users would go on regardless: another feed order, or a call to run that draws no row
        (``task_names``: the class's tasks left by ``--tags``)."""
        data = self.config.data
        if data is None or data.order != "unique" or data.when_done != "stop":
            return None
        draws = [step.uses_row for step in self.steps if self.flow or step.name in task_names]
        if not draws or not (any(draws) if self.flow else all(draws)):
            return None
        feed = self.feed_of(environment)  # made now if no user drew yet: the same share as a draw would make
        return feed.remaining() if feed is not None else None


def unique_rows_left(environment: Any, user_classes: Iterable[Any]) -> tuple[int, list[str]] | None:
    """Rows left to hand out in this process over the services of ``user_classes``, and their names; None
    when any class would go on regardless (not a fleet service, or see :meth:`ServiceRuntime.rows_left`)."""
    left: dict[str, int] = {}
    for cls in user_classes:
        if not cls.tasks:  # emptied by --tags on a worker (its master left the class out): never spawned
            continue
        runtime = getattr(cls, "runtime", None)
        if not isinstance(runtime, ServiceRuntime):
            return None
        rows = runtime.rows_left(environment, {getattr(t, "__name__", "") for t in cls.tasks})
        if rows is None:
            return None
        left[runtime.name] = rows
    return (sum(left.values()), sorted(left)) if left else None


def compile_step(step: Step, where: str, name: str, fields: Mapping[str, Any], env: Mapping[str, str]) -> CompiledStep:
    """A step's templates (``fields``: field name -> YAML value), checks and captures, compiled once."""
    templates = {
        key: Template.compile(value, f"{where}.{key}").with_env(env, f"{where}.{key}")
        for key, value in fields.items()
        if value is not None
    }
    checks = [CompiledCheck.compile(c, f"{where}.checks[{i}]").with_env(env, f"{where}.checks[{i}]")
              for i, c in enumerate(step.checks)]  # fmt: skip
    operands = Template.compile([[c.equals, c.in_] for c in step.checks], f"{where}.checks")
    uses_row = any(ref[0] == "row" for template in [*templates.values(), operands] for ref in template.refs)
    return CompiledStep(step, name, templates, checks, compile_captures(step.capture, f"{where}.capture"),
                        has_status_check=any(c.status is not None for c in step.checks), uses_row=uses_row)  # fmt: skip


def runtime_for(
    name: str, config: Any, step_fields: Callable[[Step], tuple[str, dict[str, Any]]], worker_count: int
) -> ServiceRuntime:
    """Compile a service of the plan; ``step_fields`` gives each step's row name and template fields;
    a unique feed is split between ``worker_count`` workers (1: this process alone)."""
    section = "flow" if config.flow else "operations"
    steps = []
    for i, step in enumerate(steps_of(config)):
        row_name, fields = step_fields(step)
        steps.append(compile_step(step, f"fleet.{name}.{section}[{i}]", row_name, fields, os.environ))
    rows = load_rows(Path(config.data.file), f"fleet.{name}.data") if config.data is not None else None
    return ServiceRuntime(name, config, steps, bool(config.flow), rows, max(worker_count, 1))


def think_time(config: Any) -> Callable[..., float]:
    value = config.think_time
    return between(*value) if isinstance(value, tuple) else constant(value)


class FleetUser(User):
    """The protocol-neutral half of a fleet user; a protocol subclass implements :meth:`send`."""

    abstract = True
    runtime: ServiceRuntime

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.vars: dict[str, Any] = {}

    def send(self, step: CompiledStep, context: dict[str, Any]) -> bool:
        """Send one step and report it (one request event); False when it failed."""
        raise NotImplementedError

    def new_iteration(self, uses_row: bool = True) -> dict[str, Any] | None:
        """A fresh iteration's context, or None when the unique feed is used up (the user then idles).
        (Not ``context()``: Locust's users have one, which its HTTP clients call for every request.)"""
        feed = self.runtime.feed_of(self.environment) if uses_row else None
        row = feed.next() if feed is not None else None
        if feed is not None and row is None:
            gevent.sleep(IDLE_S)
            return None
        return {"row": row, "vars": self.vars, "id": f"{self.runtime.name}-{next(self.runtime.ids)}"}

    def run_step(self, step: CompiledStep, context: dict[str, Any] | None = None) -> bool:
        context = context if context is not None else self.new_iteration(step.uses_row)
        if context is None:
            return False
        context["id"] = f"{self.runtime.name}-{next(self.runtime.ids)}"
        return self.send(step, context)

    def run_flow(self) -> None:
        context = self.new_iteration(any(step.uses_row for step in self.runtime.steps))
        if context is None:
            return
        for step in self.runtime.steps:
            if not self.run_step(step, context):
                return  # the next steps would fail for the same reason; this failure says why

    def judge(self, step: CompiledStep, reply: Reply, context: dict[str, Any]) -> str | None:
        """The first failed check or capture of ``reply`` (None: it passed); captures land in ``vars``."""
        for check in step.checks:
            failure = check.evaluate(reply, context)
            if failure is not None:
                return failure
        if step.captures:
            values, failure = take_captures(step.captures, reply)
            if failure is not None:
                return failure
            self.vars.update(values)
        return None


def tasks_for(runtime: ServiceRuntime) -> Any:
    """Locust tasks: one weighted, tagged task per operation, or one task that runs the flow."""
    if runtime.flow:
        return [FleetUser.run_flow]
    tasks: dict[Callable[..., None], int] = {}
    for step in runtime.steps:

        def run(user: FleetUser, _step: CompiledStep = step) -> None:
            user.run_step(_step)

        run.__name__ = step.name
        tasks[tag(*step.config.tags)(run) if step.config.tags else run] = step.config.weight
    return tasks


def user_class(base: type[FleetUser], class_name: str, runtime: ServiceRuntime, **attributes: Any) -> type:
    """A concrete user class for one service (Locust picks it by ``class_name`` on the command line)."""
    namespace = {"runtime": runtime, "tasks": tasks_for(runtime), "wait_time": think_time(runtime.config),
                 "weight": getattr(runtime.config, "weight", 1), "abstract": False, **attributes}  # fmt: skip
    return type(class_name, (base,), namespace)
