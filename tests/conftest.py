"""Registers the shared fixtures and the integration marking, once, for every test directory.

Helpers live in :mod:`tests.support`; no test module imports another.
"""

pytest_plugins = ["tests.support.fixtures", "tests.support.integration"]
