"""``vigil replay``: the worker's detection path, offline, in file order, with in-memory state.

Every valid event yields one result line (each applicable detector's id, version, whether it is
AI, fired or not, score, reason, or why it did not run); invalid lines are reported with their
line number and skipped. Backtests and evaluations are built on this.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector
from detectors.ruleset import RuleSet, load_rules
from pipeline.consent_store import MemoryConsentStore
from pipeline.feature_store import MemoryFeatureStore
from pipeline.processor import Processor
from schemas.decode import decode_event
from schemas.errors import InvalidEvent


@dataclass(frozen=True)
class InvalidLine:
    line: int
    reason: str


def replay_lines(lines: Iterable[str], *, rules: RuleSet | None = None,
                 models: Sequence[Detector] = (), policy_version: str = "2026-01",
                 ) -> Iterator[dict[str, Any] | InvalidLine]:
    """Yield a finding record per valid event and an :class:`InvalidLine` per bad line."""
    ruleset = rules or load_rules()
    processor = Processor(MemoryFeatureStore(), MemoryConsentStore(), lambda: ruleset, models,
                          policy_version)
    loop = asyncio.new_event_loop()
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = decode_event(line.encode("utf-8", "surrogatepass"))
            except InvalidEvent as exc:
                yield InvalidLine(number, f"{exc.kind}: {exc.reason}")
                continue
            decision = loop.run_until_complete(processor.handle(event))
            yield {
                "line": number,
                "event_id": str(event.event_id),
                "type": event.type,
                "subject_id": event.subject_id,
                "results": [r.as_dict() for r in decision.results],
            }
    finally:
        loop.close()


def replay_file(path: str, out: Callable[[str], Any], *,
                on_invalid: Callable[[InvalidLine], Any] = lambda _: None,
                rules: RuleSet | None = None) -> tuple[int, int]:
    """Replay a JSONL file, writing result lines through ``out``; returns (events, invalid)."""
    events = invalid = 0
    with open(path, encoding="utf-8") as handle:
        for record in replay_lines(handle, rules=rules):
            if isinstance(record, InvalidLine):
                invalid += 1
                on_invalid(record)
            else:
                events += 1
                out(json.dumps(record, separators=(",", ":")) + "\n")
    return events, invalid
