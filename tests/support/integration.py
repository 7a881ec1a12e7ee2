"""Which tests are integration tests (a pytest plugin, loaded by ``tests/conftest.py``).

A test is an integration test when it needs a real server: the embedded Kafka broker or Redis.
``make test-unit`` (``pytest -m "not integration"``) runs the others, so the mark must never be
missing. Two rules see to that:

* a test that uses a server fixture (:data:`SERVER_FIXTURES`, directly or through another
  fixture), and a doctest that calls ``start_kafka`` or ``start_redis``, is marked
  ``integration`` at collection;
* a test that starts a server itself (``start_kafka``/``start_redis``, in the test or in a
  fixture of its module) must be marked by hand: if it is not, starting the server fails the
  test with a message saying so, in every run, so the omission cannot go unnoticed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pipeline.local import embedded

#: Fixtures that start the embedded servers (``redis_server``: tests/support/fixtures.py).
SERVER_FIXTURES = frozenset({"stack", "single_partition_stack", "redis_server"})

#: What a doctest that starts a server says (no fixtures there to go by).
_STARTS_A_SERVER = re.compile(r"\bstart_(kafka|redis)\(")

_running: pytest.Item | None = None
_unguarded_spawn = embedded._spawn


def pytest_configure(config: pytest.Config) -> None:
    # Every embedded server starts through this one function, whoever calls start_kafka or
    # start_redis and however they imported it.
    def spawn_in_integration_tests_only(name: str, *args: Any, **kwargs: Any) -> Any:
        if _running is not None and _running.get_closest_marker("integration") is None:
            pytest.fail(f"{_running.nodeid} starts the embedded {name} but is not marked "
                        "integration: add `pytestmark = pytest.mark.integration` (or use a "
                        "server fixture), so that `make test-unit` leaves it out", pytrace=False)
        return _unguarded_spawn(name, *args, **kwargs)

    embedded._spawn = spawn_in_integration_tests_only


def pytest_unconfigure(config: pytest.Config) -> None:
    embedded._spawn = _unguarded_spawn


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if needs_a_server(item):
            item.add_marker(pytest.mark.integration)


def needs_a_server(item: pytest.Item) -> bool:
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    doctest = getattr(item, "dtest", None)  # a DoctestItem's doctest.DocTest
    return doctest is not None and any(
        _STARTS_A_SERVER.search(example.source) for example in doctest.examples)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before the item's fixtures are set up, so a module-scoped fixture that starts a server
    # is checked against the first test that needs it.
    global _running
    _running = item


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    global _running
    _running = None
