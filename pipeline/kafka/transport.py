"""faust's aiokafka transport, tuned for Vigil: a bounded fetch wait, fetch-at-a-time delivery of
the input topics, optionally an idempotent producer. Registered as broker schemes through the
``faust.transports`` entry point.

* faust hard-codes ``fetch_max_wait_ms=1500``. A broker that does not answer a long-poll fetch
  as soon as data arrives (the embedded Tansu broker waits the full time) then adds up to
  1.5 s to every fetch, and so to the time from event to case. ``VIGIL_FETCH_MAX_WAIT_MS``
  (default 10) bounds that wait.
* faust hands an agent one message at a time: per message it starts two asyncio tasks (the
  delivery raced against a flow-control event), looks up the partition's callback, decodes
  into an ``Event``, queues it, and acks it through the stream, with sensors at each step.
  Measured here that is ~65 us of CPU per message, where aiokafka's fetch and record parsing
  cost ~3 us; for Vigil's worker it was a third of the cost of an event.
  :meth:`BatchingConsumer.deliver_fetches` hands the records of chosen topics to one handler a
  fetch at a time instead (:class:`Fetched`), and commits what the handler acknowledges
  through faust's own commit path: offsets are committed on faust's commit interval, after the
  producer is flushed, and never for a revoked partition; a rebalance or a stop waits for
  the fetches in hand (``wait_empty``), exactly as it waits for unacked messages. Every other
  topic (``tns.decisions``) still flows to its agent message by message.
* faust turns on ``enable_idempotence`` only inside Kafka transactions; outside them a producer
  retry can write a flag or dead letter twice (harmless: flag ids are idempotent, but noisy).
  ``VIGIL_IDEMPOTENT_PRODUCER=1`` selects the ``vigil-kafka-idempotent`` scheme on a real
  Kafka cluster. It is off for the embedded broker, which answers aiokafka's InitProducerId
  with UnknownError.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from time import monotonic
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

SCHEME = "vigil-kafka"
IDEMPOTENT_SCHEME = "vigil-kafka-idempotent"


def broker_urls(bootstrap: str, *, idempotent: bool = False) -> str:
    """faust's broker setting for a Kafka bootstrap list (``h1:9092,h2:9092``).

    >>> broker_urls("k1:9092,k2:9092", idempotent=True)
    'vigil-kafka-idempotent://k1:9092;vigil-kafka-idempotent://k2:9092'
    """
    scheme = IDEMPOTENT_SCHEME if idempotent else SCHEME
    return ";".join(f"{scheme}://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def fetch_max_wait_ms() -> int:
    """``VIGIL_FETCH_MAX_WAIT_MS``: faust builds the consumer, so it is read from the settings here."""
    from pipeline.settings import Settings

    return Settings.from_env().fetch_max_wait_ms


class Fetched:
    """Records of one fetch, handed over together and acknowledged together.

    ``records`` are aiokafka ``ConsumerRecord`` objects (``topic``, ``partition``, ``offset``,
    ``key``, ``value``, ``timestamp``), in offset order within each partition. :meth:`ack`
    says all of them are done with (processed or dead-lettered): their offsets may be
    committed. A fetch never acknowledged is fetched again after a restart or rebalance.

    It stands in faust's set of unacked messages while in hand, so a rebalance or a stop
    waits for it as for any message (``refcount`` and ``acked`` are what faust reads there).
    """

    __slots__ = ("records", "ends", "acked", "_consumer", "__weakref__")

    def __init__(self, consumer: BatchingConsumer, records: list[Any], ends: dict[TP, int]) -> None:
        self.records = records
        #: Per partition: the offset after the last record, the offset to commit once done.
        self.ends = ends
        self.acked = False
        self._consumer = consumer

    @property
    def refcount(self) -> int:
        return 0 if self.acked else 1

    def ack(self) -> None:
        """Every record is done with: commit through them at the next commit."""
        if not self.acked:
            self.acked = True
            self._consumer._processed_through(self)

    def drop(self) -> None:
        """Let go of the records unprocessed: nothing is committed for them."""
        if not self.acked:
            self.acked = True
            self._consumer._unacked_messages.discard(self)

    def __repr__(self) -> str:
        return f"<Fetched {len(self.records)} records of {sorted(map(tuple, self.ends))}>"


FetchHandler = Callable[[Fetched], Awaitable[None]]


class BatchingConsumer(faust_aiokafka.Consumer):
    """faust's consumer, with a bounded fetch wait and fetch-at-a-time delivery (module doc)."""

    _fetch_topics: frozenset[str] = frozenset()
    _fetch_handler: FetchHandler | None = None
    _fetch_limit: int = 0
    _fetch_wait: float = 0.0
    #: Records were fetched and let go unprocessed: seek back before fetching on.
    _dropped: bool = False

    def _new_consumer_thread(self) -> BoundedWaitConsumerThread:
        return BoundedWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def deliver_fetches(self, topics: Iterable[str], handler: FetchHandler, *,
                        max_records: int = 0, max_wait: float = 0.0) -> None:
        """Hand ``topics``' records to ``handler`` a fetch (at most ``max_records``) at a time.

        With ``max_wait`` (seconds), a fetch of fewer than ``max_records`` is topped up with
        the fetches that arrive within that time of it: under live traffic each fetch holds a
        handful of records, and every hand-over costs the handler a round trip or two.
        ``handler`` returns once it has taken the records in hand (it may apply them later,
        then :meth:`Fetched.ack` them); while it has not returned, no more is fetched. The
        topics must be subscribed (``app.topics.add``). Call before the app starts.
        """
        self._fetch_topics = frozenset(topics)
        self._fetch_handler = handler
        self._fetch_limit = max_records
        self._fetch_wait = max_wait
        self._processed: dict[TP, int] = {}

    # -- committing what handlers acknowledged, through faust's own commit path --------------

    def _processed_through(self, fetched: Fetched) -> None:
        processed = self._processed
        for tp, end in fetched.ends.items():
            if end > processed.get(tp, -1):
                processed[tp] = end
        self._unacked_messages.discard(fetched)

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterable[TP]:
        pending = set(super()._filter_tps_with_pending_acks(topics))
        if self._fetch_handler is not None:
            pending.update(tp for tp in self._processed
                           if topics is None or tp in topics or tp.topic in topics)
        return pending

    def _new_offset(self, tp: TP) -> int | None:
        if self._fetch_handler is not None and tp.topic in self._fetch_topics:
            return self._processed.pop(tp, None)
        return super()._new_offset(tp)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        if self._fetch_handler is not None:
            for tp in revoked:  # the next owner starts from the last commit, as faust does
                self._processed.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    # -- the fetch loop ------------------------------------------------------------------------

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover (faust's loop)
        if self._fetch_handler is None:
            return await super()._drain_messages(fetcher)
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                if not self.flow_active:  # a rebalance: wait it out before naming the generation
                    await self.wait(self.can_resume_flow)
                generation = self.app.consumer_generation_id
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)  # as faust: a loop of quick fetches must yield
                if not records or self.should_stop:
                    continue
                if self._fetch_wait:
                    records, active = await self._top_up(records, active)
                if not self.flow_active:  # a rebalance began: these may be stale
                    await self._seek_back()
                    continue
                await self._deliver(records, active, generation)
                if self._dropped:
                    # Records were let go unprocessed and the consumer's position is past them:
                    # back to the committed offsets now, or a partition with nothing more to
                    # fetch would never see them again.
                    self._dropped = False
                    await self._seek_back()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise

    async def _seek_back(self) -> None:
        try:
            await self.perform_seek()
        except Exception as exc:  # as faust's getmany: the next rebalance seeks again
            self.log.warning("seek to committed offsets failed: %r", exc)

    async def _top_up(self, records: dict[TP, list[Any]],
                      active: set[TP] | None) -> tuple[dict[TP, list[Any]], set[TP] | None]:
        """Add the fetches that arrive within ``max_wait`` while fewer than ``max_records``
        of the fetch topics are in hand."""
        def count() -> int:
            return sum(len(v) for tp, v in records.items() if tp.topic in self._fetch_topics)

        deadline = monotonic() + self._fetch_wait
        records = {tp: list(v) for tp, v in records.items()}
        while self.flow_active and not self.should_stop and count() < (self._fetch_limit or 1 << 30):
            remaining = deadline - monotonic()
            if remaining <= 0:
                break
            more, active = await self._wait_next_records(remaining)
            for tp, tp_records in (more or {}).items():
                records.setdefault(tp, []).extend(tp_records)
        return records, active

    async def _deliver(self, records: Mapping[TP, list[Any]], active: set[TP] | None,
                       generation: int) -> None:
        inbound = self.app.monitor.stream_inbound_time
        batch: list[Any] = []
        ends: dict[TP, int] = {}
        for tp, tp_records in records.items():
            if not tp_records or (active is not None and tp not in active
                                  and tp not in self._buffered_partitions):
                continue
            if tp.topic not in self._fetch_topics:
                await self._deliver_one_by_one(tp, tp_records)
                continue
            if self._fetch_limit:
                for start in range(0, len(tp_records), self._fetch_limit):
                    chunk = tp_records[start:start + self._fetch_limit]
                    if len(batch) + len(chunk) > self._fetch_limit:
                        if not await self._hand_over(batch, ends, generation):
                            return
                        batch, ends = [], {}
                    batch.extend(chunk)
                    ends[tp] = chunk[-1].offset + 1
            else:
                batch.extend(tp_records)
                ends[tp] = tp_records[-1].offset + 1
            self._read_offset[tp] = tp_records[-1].offset
            # faust's slow-processing check reads this to tell a live partition from a stuck one
            inbound[tp] = monotonic()
        if batch:
            await self._hand_over(batch, ends, generation)

    async def _hand_over(self, batch: list[Any], ends: dict[TP, int], generation: int) -> bool:
        """Give the handler one fetch; False if a rebalance began first. The fetch is then
        dropped, and the partitions go back to their committed offsets before anything else
        is fetched (faust's recovery seeks there after a rebalance too; a fetch that began in
        the old generation and returned in the new one is dropped all the same)."""
        if not self.flow_active or self.app.consumer_generation_id != generation:
            self._dropped = True
            return False
        fetched = Fetched(self, batch, ends)
        self._unacked_messages.add(fetched)
        assert self._fetch_handler is not None
        handing = self._fetch_handler(fetched)
        # As faust delivers a message: a rebalance (flow suspended) or a stop cancels the hand-over.
        result = await self.wait_first(handing, self.suspend_flow.wait())
        if result.stopped or handing not in result.done:
            fetched.drop()
            self._dropped = True
            return False
        return True

    async def _deliver_one_by_one(self, tp: TP, tp_records: list[Any]) -> None:
        """faust's own per-message delivery, for topics not delivered a fetch at a time."""
        callback = self.callback
        get_read_offset = self._read_offset.__getitem__
        for record in tp_records:
            offset = record.offset
            r_offset = get_read_offset(tp)
            if r_offset is None or offset >= r_offset:
                gap = offset - (r_offset or 0)
                if gap > 1 and r_offset and self.app.topics.acks_enabled_for(record.topic):
                    await self._add_gap(tp, r_offset + 1, offset)
                await self.wait_first(callback(self._to_message(tp, record)),
                                      self.suspend_flow.wait())
                self._read_offset[tp] = offset


class BoundedWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms()  # read when the consumer starts
        return consumer


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type] = BatchingConsumer


class IdempotentTransport(Transport):
    Producer: ClassVar[type] = IdempotentProducer
