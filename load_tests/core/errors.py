"""The errors a user can cause, and how the command-line tools report them.

Every exception here is the user's doing (a bad flag, a bad config file, a target that is not
there). The CLIs print ``str(exc)`` as one line and exit with ``exc.exit_code``; a traceback means a
bug of ours, never a mistake of the user's.

    HarnessError
    ├── UsageError         bad flag or value on the command line      -> exit 2
    ├── ConfigError        bad YAML, unknown key, invalid value        -> exit 2
    ├── TargetUnavailable  the target cannot be reached or started     -> exit 2
    └── Interrupted        SIGINT/SIGTERM before Locust started        -> exit 130/143
"""

from __future__ import annotations

import argparse
import signal
from typing import NoReturn


class HarnessError(Exception):
    """A mistake or condition the user must fix; printed as one line."""

    exit_code = 2


class UsageError(HarnessError):
    """A command-line flag is missing, unknown or has a bad value."""


class ConfigError(HarnessError):
    """The configuration (YAML, environment or flags) is invalid; the message names the place."""


class TargetUnavailable(HarnessError):
    """The system under test (or the bundled target) could not be reached or started."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


class Interrupted(HarnessError):
    """Ctrl-C or SIGTERM arrived before the load test started: nothing was measured, nothing to report."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name} before the load test started: nothing was measured")
        self.exit_code = 128 + signum
