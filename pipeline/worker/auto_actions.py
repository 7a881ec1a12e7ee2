"""Automatic actions (:mod:`detectors.auto_actions`): once a batch's flags are in their cases,
the flags a configured detector raised above its score take their action at once; the case stays
open for an analyst. Ids derive from the flag id, so a redelivered event acts once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from detectors.auto_actions import (
    AutoAction,
    default_auto_actions,
    parse_auto_actions,
    plan_auto,
)
from pipeline.review.queue import ReviewQueue
from pipeline.stores.outages import retrying
from pipeline.worker.batches import Done

log = logging.getLogger("vigil.worker")


def load_auto_actions(path: str) -> list[AutoAction]:
    """The configuration ``VIGIL_AUTO_ACTIONS`` names, or the packaged one; a wrong file stops
    the worker at start with the entry named (never acting on half a configuration)."""
    if not path:
        return default_auto_actions()
    return parse_auto_actions(Path(path).read_text(encoding="utf-8"))


class AutoActions:
    def __init__(self, queue: ReviewQueue, configured: list[AutoAction]) -> None:
        self.queue = queue
        self.configured = configured
        self.detectors = {a.detector for a in configured}

    async def apply(self, done: list[Done]) -> None:
        if not self.detectors:
            return
        now = datetime.fromtimestamp(self.queue.clock(), UTC)
        planned = []
        for one in done:
            for flag, added in zip(one.flags, one.added):
                if flag.detector_id in self.detectors and added.case_id and not added.suppressed:
                    planned += plan_auto(self.configured, flag.model_dump(mode="json"),
                                         added.case_id, now)
        if planned:
            added_count = await retrying("automatic actions",
                                         lambda: self.queue.add_auto_actions(planned))
            log.info("automatic actions: %d planned, %d new", len(planned), added_count)
