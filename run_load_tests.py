#!/usr/bin/env python3
"""Entry point: ``python run_load_tests.py --scenario smoke --test-type all``. See ``--help``."""

import sys

from load_tests.launch.cli import main

if __name__ == "__main__":
    sys.exit(main())
