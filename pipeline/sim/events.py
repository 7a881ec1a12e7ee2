"""What the simulator yields: an event envelope and the fraud scenario it belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SimulatedEvent:
    """One generated event and its ground truth."""

    envelope: dict[str, Any]
    scenario: str | None


def truth_record(sim: SimulatedEvent) -> dict[str, Any]:
    """The ground-truth row for a labelled event (the scorer joins flags on ``event_id``).

    >>> sim = SimulatedEvent({"event_id": "e1", "type": "message.sent", "subject_id": "u1"},
    ...                      "off_platform_payment")
    >>> truth_record(sim)["scenario"]
    'off_platform_payment'
    """
    env = sim.envelope
    return {
        "event_id": env["event_id"],
        "type": env["type"],
        "subject_id": env["subject_id"],
        "scenario": sim.scenario,
    }
