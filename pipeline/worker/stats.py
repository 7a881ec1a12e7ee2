"""What a worker has done since it started, as its heartbeat reports it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class WorkerStats:
    """Counters the stages add to and the heartbeat reads (``vigil status`` sums them).

    >>> stats = WorkerStats()
    >>> stats.processed += 3
    >>> stats.as_dict()
    {'processed': 3, 'dead_letters': 0, 'flags': 0, 'batches': 0}
    """

    processed: int = 0  # events written and acknowledged
    dead_letters: int = 0  # invalid input and parked events
    flags: int = 0  # flags that created a case entry (not duplicates)
    batches: int = 0  # fetches taken

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
