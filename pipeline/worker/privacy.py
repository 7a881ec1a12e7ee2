"""Privacy in the worker's path: ``erasure.requested`` events recorded as erasure requests, and
events about erased users dropped before anything is stored of them (the late-event rule,
:mod:`pipeline.privacy.erased`). Both happen as a fetch is taken in hand, before its state
script: an erasure request is in Redis before its offset can be acknowledged, and a dropped
event never reaches a feature window, a case or a model."""

from __future__ import annotations

from typing import Any

from pipeline import metrics
from pipeline.privacy.erased import ErasedUsers
from pipeline.privacy.erasure import Eraser
from pipeline.stores.outages import retrying
from schemas.events import ErasureRequested


class PrivacyStep:
    def __init__(self, eraser: Eraser, erased: ErasedUsers) -> None:
        self.eraser = eraser
        self.erased = erased

    async def consumes(self, message: Any, event: Any) -> bool:
        """True if ``event`` is taken out of the batch: recorded as an erasure request, or
        dropped because it names an erased user."""
        if isinstance(event, ErasureRequested):
            p = event.payload
            pseudonym = await retrying("erasure request", lambda: self.eraser.request(
                p.user_id, requested_by=p.requested_by, request_id=p.request_id,
                reason=p.reason))
            self.erased.add(pseudonym)
            return True
        if self.erased.names(event):
            metrics.EVENTS_OF_ERASED.labels(message.topic).inc()
            return True
        return False
