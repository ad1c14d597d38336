"""``--tags`` / ``--exclude-tags`` at init: the user classes they empty leave the run, an empty run exits 2.

Locust's filter runs in a child process (tests/unit/tag_filter_driver.py): the pytest process never
imports Locust, whose gevent patching would reach every other test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DRIVER = Path(__file__).with_name("tag_filter_driver.py")
CASES = [
    {"tags": ["predict"]},
    {"exclude_tags": ["chat", "stream"]},
    {},
    {"tags": ["predcit"], "exclude_tags": ["chat"]},
]


def test_tags_leave_out_emptied_classes_and_a_filter_that_empties_all_is_one_line_exit_2() -> None:
    out = subprocess.run([sys.executable, str(DRIVER), json.dumps(CASES)], capture_output=True, text=True,
                         timeout=60, check=True).stdout  # fmt: skip
    only_predict, no_chat, unfiltered, nothing = json.loads(out)
    assert only_predict["left_out"] == ["ChatOnly", "Nested", "Untagged"]
    assert only_predict["kept"] == {"Mixed": ["predict"]}  # the kept class runs the tagged task alone
    assert only_predict["tags"] == {"Mixed": ["chat", "predict"], "ChatOnly": ["chat"], "Nested": ["stream"],
                                    "Untagged": []}  # nested TaskSets' tags count  # fmt: skip
    assert no_chat["left_out"] == ["ChatOnly", "Nested"]
    assert no_chat["kept"] == {"Mixed": ["predict"], "Untagged": ["plain"]}  # untagged tasks pass an exclusion
    assert unfiltered["left_out"] == [] and unfiltered["kept"]["Mixed"] == ["predict", "chat"]
    assert nothing["exit"] == 2
    assert nothing["stderr"].splitlines() == [
        "error: --tags predcit and --exclude-tags chat: no task of ChatOnly, Mixed, Nested, Untagged is left to "
        "run; their tags: chat, predict, stream"
    ]
