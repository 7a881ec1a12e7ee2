"""The worker's stages over the input topics' fetches: take, decide, write, finish.

The input topics come a fetch at a time (:mod:`pipeline.kafka.transport`): faust's per-message
agent path cost more CPU than deciding an event. Each fetch reads as the core's contract::

    take:    event = decode(raw)                 # schemas/: bytes -> typed event, or a dead letter
             loading = state.submit(state.prepare(events))  # a Redis script: features, consent
    decide:  decisions = processor.decide(events, await loading)   # the pure decide()
             samples = processor.select(events, loaded, decisions)  # labelling sample, pure
    write:   sending = writer.send(cases (flags, then samples), labels, ledger)
    finish:  await sending; learn labels, platform answers, actions, flags, metrics; acknowledge

Each stage is its own task (:mod:`pipeline.worker.stages`), so while batch N waits on Redis to be
written, batch N+1's write is sent, N+2 is decided and N+3's script runs. A fetch is acknowledged
only once written; a stop or crash before that leaves it uncommitted, so it is fetched again,
and every output is idempotent. State scripts and writes are each pipelined on a connection of
their own, in batch order, each sent as soon as it is ready
(:mod:`pipeline.stores.script_channel`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline import metrics
from pipeline.kafka.transport import Fetched
from pipeline.models.learner import Learner
from pipeline.review.queue.keys import K
from pipeline.rules.source import RuleSource
from pipeline.stores.joins import BoundedSet
from pipeline.stores.outages import retrying
from pipeline.stores.state import Loaded, RedisState
from pipeline.worker.auto_actions import AutoActions
from pipeline.worker.batches import Batch, Done
from pipeline.worker.dead_letters import DeadLetters
from pipeline.worker.flag_log import FlagLog
from pipeline.worker.flags import flags_for
from pipeline.worker.late import redecide
from pipeline.worker.links import LinkStep
from pipeline.worker.observe import (
    count_joins,
    count_lateness,
    record_decisions,
    record_late_hits,
    record_redeliveries,
    round_trip_timer,
    stage_observer,
)
from pipeline.worker.parking import PARKED, Parking
from pipeline.worker.platform import PlatformStep
from pipeline.worker.privacy import PrivacyStep
from pipeline.worker.processor import Processor
from pipeline.worker.stages import Stages
from pipeline.worker.stats import WorkerStats
from pipeline.worker.writer import BatchWriter, Sending
from schemas.clock import ClockBound
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.events import PLATFORM_EVENTS, Envelope, ReviewDecided

log = logging.getLogger("vigil.worker")
#: Writes sent and not yet finished, at most: one being finished, two queued for it, and one
#: the write stage has sent and waits to hand on.
WRITES_IN_FLIGHT = 4


@dataclass
class Sent:
    """Batches whose write is sent (:meth:`Worker.write`), for :meth:`Worker.finish`."""

    batches: list[Batch]
    sending: Sending
    #: Set when this write's after-write steps are done (None: it has none).
    after: asyncio.Future[None] | None


class Worker:
    """Takes fetches in hand (:meth:`take`) and runs them through :meth:`decide` and
    :meth:`write`. ``keep_all_inputs``: keep what the models saw of every scored event, not
    only of flagged and sampled ones (an analyst's decision labels the events of a case's flags
    or samples; labels from elsewhere can name any event)."""

    def __init__(self, *, state: RedisState, processor: Processor, rules: RuleSource,
                 learner: Learner, writer: BatchWriter, dead_letters: DeadLetters,
                 flag_log: FlagLog, parking: Parking, stats: WorkerStats,
                 keep_all_inputs: bool = False, clock_bound: ClockBound = ClockBound(),
                 clock: Callable[[], float] = time.time, links: LinkStep | None = None,
                 platform: PlatformStep | None = None,
                 auto_actions: AutoActions | None = None,
                 privacy: PrivacyStep | None = None) -> None:
        self.state = state
        self.processor = processor
        self.rules = rules
        self.learner = learner
        self.writer = writer
        self.dead_letters = dead_letters
        self.flag_log = flag_log
        self.parking = parking
        self.stats = stats
        self.keep_all_inputs = keep_all_inputs
        self.clock_bound = clock_bound
        self.clock = clock
        self.links = links
        self.platform = platform
        self.auto_actions = auto_actions
        self.privacy = privacy
        self.rules_loaded = False
        #: Flags this worker raised lately (first decisions not yet written, among them).
        self.raised = BoundedSet()
        # One fetch waits for decide (its script running meanwhile). Up to eight decided
        # batches wait for write, which sends all of them in its next round trip, so a slow
        # write does not hold up deciding and the queue behind it costs one write, not eight.
        # Up to WRITES_IN_FLIGHT sent writes are unfinished: Redis runs one while the next
        # is built and sent.
        self.stages = Stages([self.decide, self.write, self.finish],
                             depth=(1, 8, WRITES_IN_FLIGHT - 2), gather=(False, True, False),
                             observe=stage_observer(("decide", "write", "finish")))
        #: Set once the steps after the last sent write that has some are done.
        self._after_steps: asyncio.Future[None] | None = None
        self._prepared = metrics.STAGE_SECONDS.labels("prepare", "ran")
        #: A prepared fetch held until decide has room (no more is fetched meanwhile).
        self._held = metrics.STAGE_SECONDS.labels("prepare", "waited")
        self._published = metrics.STAGE_SECONDS.labels("publish", "ran")

    async def take(self, fetched: Fetched) -> None:
        """Take one fetch of the input topics in hand: decode it, start its state script and
        queue it for the later stages. Returns once it is queued; no more is fetched until
        then. A failed stage fails this, and so the fetch loop, instead of stalling it."""
        metrics.BATCH_EVENTS.observe(len(fetched.records))
        self.stats.batches += 1
        started = time.perf_counter()
        batch = await self.prepare(fetched)
        prepared = time.perf_counter()
        self._prepared.observe(prepared - started)
        await self.stages.put(batch)
        self._held.observe(time.perf_counter() - prepared)

    async def prepare(self, fetched: Fetched) -> Batch:
        """Decode a batch and submit its state script. Invalid events become dead letters, and so
        do events dated outside ``clock_bound`` around the worker's clock; erasure requests are
        recorded and events about erased users dropped (:mod:`pipeline.worker.privacy`)."""
        if not self.rules_loaded:
            # Never judge an event with the packaged rules when a deployed set exists.
            await retrying("deployed rule set", self.rules.refresh)
            self.rules_loaded = True
        batch = Batch(fetched, started=time.perf_counter())
        decoded = batch.decoded
        check_clock, now = self.clock_bound.check, self.clock()
        privacy = self.privacy
        for message in fetched.records:
            try:
                event = decode_event(message.value, topic=message.topic, key=message.key)
                check_clock(event, now)
            except InvalidEvent as exc:
                await self.dead_letters.send(message, exc.kind, exc.reason)
                continue
            # Erasure requests, and events about erased users, go no further.
            if privacy is None or not await privacy.consumes(message, event):
                decoded.append((message, event))
        if decoded:
            state = self.state
            events = [event for _, event in decoded]
            count_lateness(events, state.low_watermarks, state.joins.allowed_lateness)
            # CPU, while Redis may still run the scripts of the batches before.
            prepared = state.prepare(events, positions=[(m.topic, m.partition) for m, _ in decoded])
            batch.joins = prepared.joins
            batch.loading = state.submit(prepared)
            batch.loading.add_done_callback(round_trip_timer("state"))
        return batch

    async def decide(self, batch: Batch) -> Batch:
        """Decide a prepared batch (the pure core, once its state is loaded) and build its flags."""
        decoded = batch.decoded
        if not decoded:
            return batch
        loaded: list[Loaded] = []
        try:
            assert batch.loading is not None
            loaded = await batch.loading
            if any(item.conflict is not None for item in loaded):
                decoded, loaded = await self._drop_conflicts(decoded, loaded)
            events = [event for _, event in decoded]
            decisions: list[Any] = self.processor.decide(events, loaded)
        except Exception:  # a bug: go one by one, so one bad event cannot park the others
            log.exception("batch failed; processing its %d events one by one", len(decoded))
            decisions = [await self._decide_one(message, event) for message, event in decoded]
            samples: list[Any] = [None] * len(decisions)
        else:
            samples = self._select(events, loaded, decisions)
        version = self.rules.version
        source_version = f"rules-v{version}" if version else None
        done, keep_all_inputs = batch.done, self.keep_all_inputs
        redeliveries = ([item.redelivered for item in loaded] if len(loaded) == len(decoded)
                        else [False] * len(decoded))  # unknown after the one-by-one fallback
        for (message, event), decision, sample, redelivered in zip(decoded, decisions, samples,
                                                                    redeliveries):
            if decision is None:  # parked
                continue
            try:
                flags = (flags_for(event, decision, source_version=source_version)
                         if decision.findings else [])
            except Exception as exc:  # a bug: park this event only
                await self.parking.park(message, event, exc)
                continue
            if flags:  # a re-decision of the event leaves these out (_not_raised)
                self.raised.add(flag.flag_id for flag in flags)
            # What the models saw is kept for a label: of flagged and of sampled events.
            done.append(Done(message, event, decision, flags, sample=sample,
                             keep_input=bool(decision.findings) or sample is not None
                             or keep_all_inputs, redelivered=redelivered))
        if self.links is not None and done:
            batch.linking = asyncio.ensure_future(self.record_links(list(done)))
        count_joins(batch.joins)
        if any(item.released for item in loaded):
            await self.decide_again(batch, loaded, source_version)
        return batch

    async def decide_again(self, batch: Batch, loaded: list[Loaded],
                           source_version: str | None) -> None:
        """Decide again the events the batch's joins released (:mod:`pipeline.worker.late`),
        to be written and acknowledged with the batch. A bug here is logged and counted:
        the events were decided once already."""
        try:
            again = await redecide(self.state, self.processor, loaded)
            message = batch.decoded[-1][0]  # written and acknowledged with this batch
            made = [flags_for(one.event, one.decision, source_version=source_version,
                              late=one.why) if one.decision.findings else [] for one in again]
            fresh = await self._not_raised(
                [f for flags in made for f in flags],
                {f.flag_id for one, flags in zip(again, made) if one.redelivered for f in flags})
            self.raised.add(fresh)  # a later release of the same event raises them no more
            for one, flags in zip(again, made):
                flags = [f for f in flags if f.flag_id in fresh]
                batch.done.append(Done(message, one.event, one.decision, flags,
                                       keep_input=bool(flags), late=one.why,
                                       release=one.released.hold))
                metrics.DECIDED_LATE.labels(one.released.reason).inc()
        except Exception:
            metrics.DECIDED_LATE.labels("error").inc()
            log.exception("deciding released events again failed")

    async def _not_raised(self, flags: list[Any], redelivered: set[str]) -> set[str]:
        """The ids of ``flags`` not raised already (by the events' first decisions, in Redis or
        still on their way there): only what the partner changed is a new flag; the others
        would come back as duplicates. A flag in ``redelivered`` (its re-decision was released
        by a redelivered event) that a re-decision raised is raised again: a worker killed
        after writing it and before publishing it left it off ``tns.flags``."""
        flags = [flag for flag in flags if flag.flag_id not in self.raised]
        if not flags:
            return set()
        redis = self.state.redis

        async def stored() -> list[Any]:
            pipe = redis.pipeline(transaction=False)
            for flag in flags:
                pipe.get(f"{K}flag:{flag.flag_id}")
            return list(await pipe.execute())

        found = await retrying("flags raised already", stored)
        return {flag.flag_id for flag, there in zip(flags, found)
                if there is None or (flag.flag_id in redelivered and _raised_late(there))}

    async def _drop_conflicts(self, decoded: list[tuple[Any, Envelope]], loaded: list[Loaded],
                              ) -> tuple[list[tuple[Any, Envelope]], list[Loaded]]:
        """Dead-letter the conflicting duplicates (another event was seen under their id
        lately); returns the others with their loads."""
        kept: tuple[list[tuple[Any, Envelope]], list[Loaded]] = ([], [])
        for (message, event), item in zip(decoded, loaded):
            if item.conflict is None:
                kept[0].append((message, event))
                kept[1].append(item)
            else:
                await self.dead_letters.send(message, "conflicting_duplicate",
                                             item.conflict_reason(event))
        return kept

    def _select(self, events: list[Any], loaded: Any, decisions: list[Any]) -> list[Any]:
        """The labelling sample of a decided batch: pure, in event order, the models' picks
        spending the budget against the cache of Redis's counts (the write stage's script has
        the last word). A failing sampler (a bug) costs the batch its samples, not its events."""
        try:
            return self.processor.select(events, loaded, decisions)
        except Exception:
            log.exception("the labelling sampler failed; %d events not sampled", len(events))
            return [None] * len(decisions)

    async def _decide_one(self, message: Any, event: Any) -> Any:
        """One event of a batch that failed, on its own; None if it was parked."""
        decision = await self.parking.attempt(message, event,
                                              lambda: self.processor.handle(event))
        return None if decision is PARKED else decision

    async def write(self, batches: list[Batch]) -> Sent:
        """Send the write of decided batches (cases, ledger, labels) behind the writes before.

        Every batch decided while the last write was being sent goes in the next one: a round
        trip costs about the same for 20 events as for 200, so under load batches share it
        rather than queue for one each. The write is not waited for here (:meth:`finish`
        does), so the next one can be sent while Redis runs this one: Redis applies them in
        the order sent. A batch whose events have steps after their write (platform answers,
        analysts' decisions, automatic actions) holds the next write until those are done,
        so every step sees the batches before it complete."""
        if self._after_steps is not None:
            await self._after_steps
        for batch in batches:  # a new ring's flag is written with the batch's cases
            if batch.linking is not None:
                await batch.linking
        done = [one for batch in batches for one in batch.done]
        after = (asyncio.get_running_loop().create_future()
                 if any(self._has_after_steps(one) for one in done) else None)
        self._after_steps = after
        return Sent(batches, self.writer.send(done), after)

    def _has_after_steps(self, one: Done) -> bool:
        event = one.event
        return (isinstance(event, (ReviewDecided, *PLATFORM_EVENTS))
                or (self.auto_actions is not None and bool(one.flags)
                    and any(f.detector_id in self.auto_actions.detectors for f in one.flags)))

    async def finish(self, sent: Sent) -> None:
        """Wait for a sent write, then the steps after it (labels learned, platform answers,
        automatic actions), publish its flags, count it and acknowledge its batches in order."""
        try:
            await self._finish(sent)
        finally:
            if sent.after is not None and not sent.after.done():
                sent.after.set_result(None)

    async def _finish(self, sent: Sent) -> None:
        batches = sent.batches
        done = await self.writer.confirm(sent.sending)
        done = await self.learn_labels(done)
        if self.platform is not None:  # actions' acknowledgements and appeals, to their cases
            done = await self.platform.apply(done)
        if self.auto_actions is not None:  # flags above a configured score act at once
            await self.auto_actions.apply(done)
        publish, started = self.flag_log.publish, time.perf_counter()
        for one in done:  # after the write round trip: the queue's reply names each case
            for flag, added in zip(one.flags, one.added):
                await publish(flag, added)
        self._published.observe(time.perf_counter() - started)
        firsts = [d for d in done if d.late is None]
        record_decisions([(d.message.topic, d.decision) for d in firsts if not d.redelivered])
        record_redeliveries([d.message.topic for d in firsts if d.redelivered])
        # A re-decision counts once more only what it newly flagged (its other hits were
        # counted with the first decision): every published flag is a counted hit.
        record_late_hits([flag.detector_id for d in done if d.late is not None for flag in d.flags])
        now = time.perf_counter()
        for batch in batches:  # per event taken from Kafka: re-decisions went with them
            taken = sum(d.late is None for d in batch.done)
            for _ in range(taken):
                metrics.PROCESSING.observe((now - batch.started) / taken)
        self.stats.processed += len(firsts)
        for batch in batches:
            batch.fetched.ack()  # the offsets may now be committed

    async def record_links(self, done: list[Done]) -> None:
        """Keep the link index up to date: started once a batch is decided, so its round trip
        overlaps the write of the batches before; awaited before the batch is written (a new
        ring's flag goes with its cases). Links are not worth an event: a bug here is logged
        and counted, never parked."""
        links = self.links
        if links is None or not done:
            return
        try:
            await retrying("link index", lambda: links.apply(done))
        except Exception:
            metrics.LINK_ERRORS.inc()
            log.exception("the link index failed; %d events' links not recorded", len(done))

    async def learn_labels(self, done: list[Done]) -> list[Done]:
        """Teach the models the batch's analyst decisions before the batch is acknowledged.

        ``tns.decisions`` has one partition, so exactly one worker of the group gets decisions
        in its fetches: that worker is the learner. Learning is idempotent by decision id, so a
        redelivered decision teaches nothing twice. Returns the events not parked."""
        if not self.learner.by_id or not any(isinstance(one.event, ReviewDecided) for one in done):
            return done
        kept = []
        for one in done:
            event = one.event
            if isinstance(event, ReviewDecided):
                # A label that cannot be learned (a bug) is parked; it must not stall the others.
                result = await self.parking.attempt(
                    one.message, event, lambda event=event: self.learner.learn(event),
                    what=f"decision {event.payload.decision_id}")
                if result is PARKED:
                    continue
                log.info("decision %s: %s", event.payload.decision_id,
                         {k: v for k, v in result.items() if k != "outcomes"})
            kept.append(one)
        return kept


def _raised_late(stored: bytes | str) -> bool:
    """Whether a stored flag was raised by a re-decision (its evidence says ``decided_late``)."""
    return (b'"decided_late"' if isinstance(stored, bytes) else '"decided_late"') in stored
