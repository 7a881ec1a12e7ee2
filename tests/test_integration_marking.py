"""Tests that need a server are marked integration, so ``make test-unit`` can leave them out
(the rules are in tests/support/integration.py)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from pipeline.local.embedded import start_kafka, start_redis
from tests.support.integration import SERVER_FIXTURES, pytest_collection_modifyitems


@pytest.mark.parametrize("start", [start_kafka, start_redis])
def test_a_test_not_marked_integration_cannot_start_a_server(start: object,
                                                             tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="is not marked integration"):
        start(tmp_path)  # type: ignore[operator]


class _Item:
    def __init__(self, *fixturenames: str) -> None:
        self.fixturenames = list(fixturenames)
        self.marks: list[str] = []
        self.dtest: doctest.DocTest | None = None

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.marks.append(mark.name)


def test_a_test_using_a_server_fixture_directly_or_through_another_is_marked() -> None:
    # fixturenames holds the whole closure: redis_url's test lists redis_server too.
    direct, indirect, neither = _Item("stack"), _Item("redis_url", "redis_server"), _Item("tmp_path")
    pytest_collection_modifyitems([direct, indirect, neither])  # type: ignore[list-item]
    assert (direct.marks, indirect.marks, neither.marks) == (["integration"], ["integration"], [])


def test_a_doctest_that_starts_a_server_is_marked() -> None:
    parser = doctest.DocTestParser()
    starts, reads = _Item(), _Item()
    starts.dtest = parser.get_doctest(">>> server = start_redis(path)\n", {}, "starts", None, 0)
    reads.dtest = parser.get_doctest(">>> share(0.5)\n'50%'\n", {}, "reads", None, 0)
    pytest_collection_modifyitems([starts, reads])  # type: ignore[list-item]
    assert (starts.marks, reads.marks) == (["integration"], [])


def test_every_collected_test_using_a_server_fixture_is_marked_integration(
        request: pytest.FixtureRequest) -> None:
    for item in request.session.items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            assert item.get_closest_marker("integration"), item.nodeid
