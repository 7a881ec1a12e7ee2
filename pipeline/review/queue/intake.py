"""Flags into cases: the worker's side of the queue.

``add_flags`` is idempotent: a flag id seen before changes nothing (a redelivered event or flag
never creates a second flag or case). A repeat hit of the same detector on the same open case
within the flag's ``dedup_seconds`` (event time), or a hit of a detector an analyst snoozed for
that entity, adds no flag to the case: it is recorded as suppressed (stored, linked, counted).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import ResponseError

from detectors.results import SEVERITY_RANK
from pipeline import metrics
from pipeline.review.queue.base import as_str
from pipeline.review.queue.history import History
from pipeline.review.queue.policy import is_report, minute_of, priority_weights
from pipeline.review.queue.scripts import source
from pipeline.review.queue.search import terms_of
from pipeline.stores.outages import is_outage
from schemas.outputs import Flag

#: The flagged event's envelope: a dict or a schemas model (None: none to store).
Envelope = Mapping[str, Any] | Any | None


@dataclass(frozen=True)
class AddResult:
    created: bool
    case_id: str
    #: Why the flag was not added to a case (``dedup`` or ``snoozed``); None if it was, or if it
    #: was seen before and added then.
    suppressed: str | None = None
    #: The error Redis refused this flag with (a key of the wrong type, out of memory): nothing
    #: of it was written, so adding it again is safe. None if it was taken.
    error: str | None = None

    @property
    def outage(self) -> bool:
        """Refused because Redis cannot take writes for now (out of memory, read-only): wait
        and add it again, rather than treat the flag as failed."""
        return self.error is not None and is_outage(ResponseError(self.error))


def _script_error(message: str) -> str:
    """An error a flag's script call caught, as Redis would reply it (its code first, so
    :func:`pipeline.stores.outages.is_outage` reads it).

    >>> _script_error("@user_script: 5: -OOM command not allowed when used memory > 'maxmemory'.\\r\\n")
    "OOM command not allowed when used memory > 'maxmemory'."
    >>> _script_error("WRONGTYPE Operation against a key holding the wrong kind of value")
    'WRONGTYPE Operation against a key holding the wrong kind of value'
    """
    return re.sub(r"^(?:@user_script:? ?\d+: )*-?", "", message).strip()


class Intake(History):
    """Adding flags and recording events' history: all the worker needs of the queue. A user
    report about a message or proposal whose author :class:`History` recorded joins the
    author's case (``lua/add_flags.lua``)."""

    async def add_flag(self, flag: Flag, event: Envelope = None) -> AddResult:
        """Add one flag (idempotent by flag id). ``event`` is the flagged event's envelope (a dict
        or a schemas model), stored once under ``vigil:event:<event_id>`` so the case can show
        it (flags carry no envelope: the flag log is no second store of personal data). Raises
        :class:`redis.exceptions.ResponseError` if Redis refused it (nothing was written)."""
        result = (await self.add_flags([flag], [event]))[0]
        if result.error is not None:
            raise ResponseError(result.error)
        return result

    async def add_flags(self, flags: Sequence[Flag], events: Sequence[Envelope] | None = None,
                        ) -> list[AddResult]:
        """Add flags in order with one script call, each as :meth:`add_flag` would. A flag Redis
        refuses writes nothing and comes back with its ``error``; the others are added all the
        same. Adding any of them again is safe."""
        if not flags:
            return []
        now = self.clock()
        replies = await self.scripts.add_flags(args=[self._flags_argument(flags, events, now)])
        return self._add_results(flags, replies, now)

    def add_flags_to(self, pipe: Any, flags: Sequence[Flag], events: Sequence[Envelope] | None = None,
                     ) -> Callable[[Any], list[AddResult]]:
        """Queue :meth:`add_flags` of ``flags`` (and their events' envelopes) on a pipeline (one
        ``EVALSHA``); returns what reads its reply. A reply of
        :class:`redis.exceptions.NoScriptError` (Redis lost its scripts: a restart without
        them) means :meth:`load_scripts`, then queue it again."""
        now = self.clock()
        pipe.evalsha(self.scripts.add_flags.sha, 0, self._flags_argument(flags, events, now))
        return lambda replies: self._add_results(flags, replies, now)

    async def load_scripts(self) -> None:
        """Load the scripts the worker sends by hash (flags and labelling samples)."""
        await self.redis.script_load(source("add_flags"))
        await self.redis.script_load(source("add_samples"))

    def _flags_argument(self, flags: Sequence[Flag], events: Sequence[Envelope] | None,
                        now: float) -> bytes:
        return orjson.dumps([self._flag_args(flag, event, now)
                             for flag, event in zip(flags, events or [None] * len(flags))])

    def _add_results(self, flags: Sequence[Flag], replies: Any, now: float) -> list[AddResult]:
        results = []
        for flag, reply in zip(flags, replies):
            if reply[0] == -1:
                result = AddResult(False, "", None, error=_script_error(as_str(reply[1])))
                if not result.outage:  # an outage is retried, not a failure
                    metrics.QUEUE_FLAGS.labels(flag.detector_id, "failed").inc()
                results.append(result)
                continue
            created, case_id, suppressed, fresh = reply
            why = as_str(suppressed) or None
            result = AddResult(bool(created), as_str(case_id), why)
            if not fresh:
                outcome = "duplicate"
            else:
                outcome = "created" if result.created else f"suppressed_{why}"
            metrics.QUEUE_FLAGS.labels(flag.detector_id, outcome).inc()
            if result.created:
                metrics.FLAG_TO_CASE.observe(max(0.0, now - flag.flagged_at.timestamp()))
            results.append(result)
        return results

    def _flag_args(self, flag: Flag, event: Envelope, now: float) -> list[str]:
        """One flag's arguments to ``lua/add_flags.lua``, in its order."""
        entity = f"{flag.entity_type}:{flag.entity_id}"
        event_json, data = "", None
        if event is not None:
            data = event.model_dump(mode="json") if hasattr(event, "model_dump") else dict(event)
            event_json = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str).decode()
        report = is_report(flag)
        if flag.entity_type == "user":
            subject = flag.entity_id
        elif report:  # a report's subject_id is the reporter, not the reported
            subject = ""
        else:
            subject = flag.subject_id
        # Numbers travel as strings (repr: every digit of a timestamp), as redis-py sends them.
        return [
            # The envelope is stored once under vigil:event:<id>, not inside every flag.
            flag.flag_id, flag.model_dump_json(), entity, flag.entity_type,
            flag.entity_id,
            str(SEVERITY_RANK[flag.severity]), repr(flag.score), repr(now), flag.detector_id,
            "case_" + flag.flag_id.removeprefix("flg_")[:20],
            repr(flag.occurred_at.timestamp()), str(flag.dedup_seconds), "1" if report else "0",
            subject, flag.event_id, event_json, str(self.config.sla_seconds[flag.severity]),
            minute_of(now), flag.reason[:500], *map(repr, priority_weights(self.config)),
            orjson.dumps(terms_of(data, self.search_key)).decode(),
            str(self.config.search_entries),
        ]
