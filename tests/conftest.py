"""Registers the shared fixtures and the integration marking, once, for every test directory.

Helpers live in :mod:`tests.support`; no test module imports another.
"""

import os

# pytest-xdist's workers run with COLUMNS=80 in their environment, and a rich Console made while
# it is set keeps that width for good: the CLI's consoles are made at import, so the tests'
# own COLUMNS (CliRunner's env) would be ignored and wide tables cut. Without it, rich reads the
# variable at each print, as it does in a serial run.
os.environ.pop("COLUMNS", None)

pytest_plugins = ["tests.support.fixtures", "tests.support.integration"]
