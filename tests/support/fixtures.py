"""The fixtures every test directory may use (a pytest plugin, loaded by ``tests/conftest.py``):
a fresh embedded broker and Redis with Vigil's topics. Fixtures only some directory uses live in
that directory's conftest.py (``tests/review/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, running_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A fresh embedded broker and Redis with Vigil's topics (4 partitions each)."""
    with running_stack(tmp_path) as s:
        yield s


@pytest.fixture
def single_partition_stack(tmp_path: Path) -> Iterator[Stack]:
    """One partition per topic: processing order equals publish order, as in `vigil replay`."""
    with running_stack(tmp_path, partitions=1) as s:
        yield s
