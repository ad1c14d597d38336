"""``--tags`` / ``--exclude-tags``: leave out the user classes they empty, and refuse a run they empty whole.

Locust filters each user class's tasks by tag when the test starts, and then still spawns a class left
with no task: each such user logs "No tasks defined" with a traceback and holds a slot of the run's
users doing nothing. A run of every bundled type with ``--tags predict`` kept 4 of its 5 users idle,
and a mistyped tag ran nothing at all and passed. Here the filter runs once at init (Locust skips its
own later pass), the emptied classes leave the run with one line that names them, and a filter that
leaves no task at all is a usage error (exit 2) that lists the tags the run's users do have.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from locust.env import Environment
from locust.user.task import TaskSet, is_markov_taskset

from load_tests.core.run_folder import EXIT_USAGE

logger = logging.getLogger("load_tests")


class _NoEmptiedWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "had no tasks left after filtering" not in record.getMessage()


def task_tags(holder: Any, seen: set[int] | None = None) -> set[str]:
    """Every tag on the tasks of a user class or TaskSet, nested TaskSets included."""
    seen = set() if seen is None else seen
    tags: set[str] = set()
    for task in getattr(holder, "tasks", []):
        if id(task) in seen:
            continue
        seen.add(id(task))
        tags |= set(getattr(task, "locust_tag_set", ()))
        if isinstance(task, type) and issubclass(task, TaskSet):
            tags |= task_tags(task, seen)
    return tags


def runnable(user_class: Any) -> bool:
    """Locust's own test for a class that can still be instantiated after filtering."""
    return bool(user_class.tasks) or is_markov_taskset(user_class) or bool(getattr(user_class, "functions", False))


def describe_filter(tags: Iterable[str] | None, exclude_tags: Iterable[str] | None) -> str:
    parts = []
    if tags:
        parts.append("--tags " + " ".join(tags))
    if exclude_tags:
        parts.append("--exclude-tags " + " ".join(exclude_tags))
    return " and ".join(parts)


def nothing_left_message(flags: str, available: set[str], classes: Sequence[str]) -> str:
    have = ", ".join(sorted(available)) if available else "none (their tasks have no @tag)"
    return f"error: {flags}: no task of {', '.join(classes)} is left to run; their tags: {have}"


def apply_tag_filter(environment: Environment) -> list[str]:
    """Filter the run's user classes by the tag options now; returns the names of those left out.
    Exits with a one-line error (code 2) when no class has a task left."""
    options = environment.parsed_options  # read in Locust's order: the environment's own, then the options
    tags = environment.tags if environment.tags is not None else getattr(options, "tags", None)
    exclude = (
        environment.exclude_tags if environment.exclude_tags is not None else getattr(options, "exclude_tags", None)
    )
    if not (tags or exclude) or not environment.user_classes:
        return []
    names = [u.__name__ for u in environment.user_classes]
    available: set[str] = set()
    for user_class in environment.user_classes:
        available |= task_tags(user_class)
    root, quiet = logging.getLogger(), _NoEmptiedWarning()
    root.addFilter(quiet)  # Locust warns "instantiating it will fail" of each class that we leave out below
    try:
        environment._filter_tasks_by_tags()  # once: Locust's own call at the test's start then returns at once
    finally:
        root.removeFilter(quiet)
    kept = [u for u in environment.user_classes if runnable(u)]
    flags = describe_filter(tags, exclude)
    if not kept:
        print(nothing_left_message(flags, available, sorted(names)), file=sys.stderr, flush=True)
        sys.exit(EXIT_USAGE)
    left_out = sorted(u.__name__ for u in environment.user_classes if not runnable(u))
    environment.user_classes[:] = kept  # the runner reads this same list when it dispatches users
    if left_out:
        logger.info("%s: %s left out, no task of theirs is left", flags, ", ".join(left_out))
    return left_out
