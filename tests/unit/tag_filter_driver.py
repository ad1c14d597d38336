"""Child process of tests/unit/test_tag_filter.py (the pytest process never imports Locust): applies
engine/tag_filter to fresh user classes for each case given as JSON on argv, and prints JSON per case:
the classes left out, those kept with their task names, each class's tags, or the exit code and stderr.
``python tests/unit/tag_filter_driver.py '[{"tags": ["predict"]}, ...]'``."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from locust import TaskSet, User, constant, tag, task
from locust.env import Environment

from load_tests.engine.tag_filter import apply_tag_filter, task_tags


def _classes() -> list[type[User]]:
    """Fresh classes for each case: Locust's filter rewrites a class's task list in place."""

    class Streams(TaskSet):
        @tag("stream")
        @task
        def stream(self) -> None: ...

    class Mixed(User):
        wait_time = constant(1)

        @tag("predict")
        @task
        def predict(self) -> None: ...

        @tag("chat")
        @task
        def chat(self) -> None: ...

    class ChatOnly(User):
        wait_time = constant(1)

        @tag("chat")
        @task
        def chat(self) -> None: ...

    class Nested(User):
        wait_time = constant(1)
        tasks = [Streams]  # noqa: RUF012 - Locust's own way to list TaskSets

    class Untagged(User):
        wait_time = constant(1)

        @task
        def plain(self) -> None: ...

    return [Mixed, ChatOnly, Nested, Untagged]


def _case(options: dict[str, Any]) -> dict[str, Any]:
    classes = _classes()
    tags = {c.__name__: sorted(task_tags(c)) for c in classes}
    env = Environment(user_classes=classes, tags=options.get("tags"), exclude_tags=options.get("exclude_tags"))
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            left_out = apply_tag_filter(env)
    except SystemExit as exited:
        return {"exit": exited.code, "stderr": err.getvalue(), "tags": tags}
    kept = {c.__name__: [getattr(t, "__name__", str(t)) for t in c.tasks] for c in env.user_classes}
    return {"left_out": left_out, "kept": kept, "tags": tags}


if __name__ == "__main__":
    print(json.dumps([_case(options) for options in json.loads(sys.argv[1])]))
