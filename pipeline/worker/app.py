"""The faust worker: every input topic in; cases into the review queue, flags and dead letters out.

Delivery is at least once (the embedded broker has no Kafka transactions): offsets are committed
only after the producer is flushed, and every output is idempotent (feature counters keyed by
event id, flag ids derived from event and detector, a Lua script that adds each flag once), so a
redelivered event changes nothing. The input topics arrive a fetch at a time
(:mod:`pipeline.kafka.transport`), and each fetch reads as the core's contract, in three
overlapping stages (:mod:`pipeline.worker.stages`)::

    take:    event = decode(raw)                 # schemas/: bytes -> typed event, or a dead letter
             loading = state.submit(state.prepare(events))  # a Redis script: features, consent
    decide:  decisions = processor.decide(events, await loading)   # the pure decide()
    write:   cases, labels, flags, ledger, metrics; then acknowledge the fetch

State scripts are pipelined on a connection of their own, in batch order, each sent as soon as
its batch is taken (:mod:`pipeline.stores.script_channel`); the write stage gathers, writing every
batch decided meanwhile in one round trip.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from detectors.models import default_models
from detectors.ruleset import RuleSet, load_rules
from pipeline import metrics
from pipeline.kafka.transport import IDEMPOTENT_SCHEME, SCHEME, Fetched
from pipeline.models.runtime import ModelRuntime
from pipeline.review.queue import AddResult, ReviewQueue
from pipeline.rules.live import LiveRules
from pipeline.settings import Settings
from pipeline.stores import ledger
from pipeline.stores.outages import OUTAGES, is_outage, retrying
from pipeline.stores.state import RedisState
from pipeline.worker.dead_letters import dead_letter
from pipeline.worker.flags import flags_for
from pipeline.worker.observe import record_decisions, seconds_since
from pipeline.worker.processor import Processor
from pipeline.worker.stages import Stages
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.events import Envelope, ReviewDecided
from schemas.outputs import Flag
from schemas.topics import INPUT_TOPICS, Topics, topic_plan

log = logging.getLogger("vigil.worker")
#: Event ids processed in the last ``ledger_retention`` seconds, with the time they were done.
LEDGER = ledger.KEY
@dataclass
class Batch:
    """A micro-batch between its two stages: decoded, its state load under way."""

    fetched: Fetched  # every record of the batch (dead letters too): acked when written
    started: float
    decoded: list[tuple[Any, Envelope]] = field(default_factory=list)
    loading: asyncio.Future[Any] | None = None
    #: What deciding it left to write: the events decided, with their flags.
    done: list[Done] = field(default_factory=list)


@dataclass
class Done:
    """An event being applied: decided, its flags built; cases, ledger entry and model input to write."""

    message: Any
    event: Envelope
    decision: Any
    flags: list[Flag]
    keep_input: bool


def broker_urls(bootstrap: str, *, idempotent: bool = False) -> str:
    """faust's broker setting for a Kafka bootstrap list (``h1:9092,h2:9092``).

    >>> broker_urls("k1:9092,k2:9092", idempotent=True)
    'vigil-kafka-idempotent://k1:9092;vigil-kafka-idempotent://k2:9092'
    """
    scheme = IDEMPOTENT_SCHEME if idempotent else SCHEME
    return ";".join(f"{scheme}://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def create_app(settings: Settings, rules: Callable[[], RuleSet] | None = None) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap, idempotent=settings.idempotent_producer),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=settings.commit_interval,
        producer_acks=-1,
        # A write stage publishes its batch's flags at once; with faust's 16 KiB batches the
        # sends queued behind a full batch each waited out a produce round trip (~100 ms for
        # 300 flags under load). One batch takes a write's flags (within the request limit).
        producer_max_batch_size=512 * 1024,
        worker_redirect_stdouts=False,
    )
    inputs = app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(Topics.DEAD_LETTERS, key_serializer="raw", value_serializer="raw")

    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                           health_check_interval=10)
    # The deployed rule set (hot-reloaded), or the packaged library until one is deployed.
    live_rules = LiveRules(redis, load_rules()) if rules is None else None
    runtime = ModelRuntime(redis, default_models(settings.model_hash_key.encode())
                           if settings.models_enabled else [],
                           input_ttl_seconds=settings.model_input_ttl)
    state = RedisState(redis)
    processor = Processor(state, rules or live_rules,  # type: ignore[arg-type]
                          runtime, policy_version=settings.policy_version)
    queue = ReviewQueue(redis)
    stats = {"processed": 0, "dead_letters": 0, "flags": 0, "batches": 0}

    def round_trip_timer(step: str) -> Callable[..., None]:
        """Call the result (as is, or as a future's done callback) when the reply is read."""
        histogram, started = metrics.REDIS_ROUND_TRIP.labels(step), time.perf_counter()
        return lambda *_: histogram.observe(time.perf_counter() - started)

    async def send_dead_letter(message: Any, kind: str, reason: str) -> None:
        letter = dead_letter(kind=kind, reason=reason, topic=message.topic,
                             partition=message.partition, offset=message.offset,
                             key=message.key, value=message.value)
        log.info("dead letter %s/%s@%s: %s", message.topic, message.partition, message.offset, reason)
        await dead_letters.send(key=message.key, value=letter.model_dump_json().encode())
        metrics.DEAD_LETTERS.labels(message.topic, kind).inc()
        stats["dead_letters"] += 1

    async def prepare(fetched: Fetched) -> Batch:
        """Decode a batch (invalid events become dead letters) and submit its state script."""
        if live_rules is not None and not rules_loaded.is_set():
            # Never judge an event with the packaged rules when a deployed set exists.
            await retrying("deployed rule set", live_rules.refresh)
            rules_loaded.set()
        batch = Batch(fetched, started=time.perf_counter())
        for message in fetched.records:
            try:
                batch.decoded.append((message, decode_event(message.value, topic=message.topic)))
            except InvalidEvent as exc:
                await send_dead_letter(message, exc.kind, exc.reason)
        if batch.decoded:
            events = [event for _, event in batch.decoded]
            # CPU, while Redis may still run the scripts of the batches before.
            batch.loading = state.submit(state.prepare(events))
            batch.loading.add_done_callback(round_trip_timer("state"))
        return batch

    async def decide_stage(batch: Batch) -> Batch:
        """Decide a prepared batch (the pure core, once its state is loaded) and build its flags."""
        decoded = batch.decoded
        if not decoded:
            return batch
        try:
            assert batch.loading is not None
            loaded = await batch.loading
            decisions: list[Any] = processor.decide([event for _, event in decoded], loaded)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: go one by one, so one bad event cannot park the others
            log.exception("batch failed; processing its %d events one by one", len(decoded))
            decisions = [await handle_one(message, event) for message, event in decoded]
        version = f"rules-v{live_rules.version}" if live_rules and live_rules.version else None
        for (message, event), decision in zip(decoded, decisions):
            if decision is None:
                continue
            try:
                flags = (flags_for(event, decision, source_version=version)
                         if decision.findings else [])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: park this event only
                await park(message, event, exc)
                continue
            batch.done.append(Done(message, event, decision, flags,
                                   keep_input=bool(decision.findings) or keep_all_inputs))
        return batch

    async def write_stage(batches: list[Batch]) -> None:
        """Write decided batches (cases, ledger, labels, flags), then acknowledge them in order.

        Every batch decided while the last write was out is written in the next one: a round
        trip costs about the same for 20 events as for 200, so under load batches share it
        rather than queue for one each (that queue was most of the time from event to case)."""
        done = await write_outputs([one for batch in batches for one in batch.done])
        done = await learn_labels(done)
        for one in done:
            for flag in one.flags:
                await publish_flag(flag)
        record_decisions([(d.message.topic, d.decision) for d in done])
        now = time.perf_counter()
        for batch in batches:
            if batch.done:
                per_event = (now - batch.started) / len(batch.done)
                for _ in batch.done:
                    metrics.PROCESSING.observe(per_event)
        stats["processed"] += len(done)
        for batch in batches:
            batch.fetched.ack()  # the offsets may now be committed

    # What the models saw is kept for flagged events (an analyst's decision labels the events
    # of a case's flags), or for every scored event when labels also come from elsewhere.
    keep_all_inputs = settings.model_inputs == "all"

    async def write_outputs(done: list[Done]) -> list[Done]:
        """In one round trip: add the batch's flags to the review queue (each opens or joins
        its entity's case), keep what the models saw, and mark the events processed in the
        ledger. Returns the events written, having parked any that could not be.

        Cases are written here, not by a consumer of ``tns.flags``: that second Kafka hop was
        most of the time from event to case. Every write is idempotent (flags by flag id, the
        rest by event id), so a batch redelivered after a crash, or retried event by event
        below, writes nothing twice.
        """
        if not done:
            return done
        flags = [flag for one in done for flag in one.flags]
        read: Callable[[Any], list[AddResult]] | None = None
        added: list[AddResult] = []

        def build(pipe: Any) -> None:
            nonlocal read
            read = queue.add_flags_to(pipe, flags) if flags else None
            queue_finish(pipe, done)

        async def write() -> list[Any]:
            nonlocal added
            done_writing = round_trip_timer("write")
            replies = await run_pipeline(build)
            done_writing()
            if read is not None and not isinstance(replies[0], Exception):
                added = read(replies[0])
                outage = [r.error for r in added if r.outage]
                if outage:  # Redis refuses writes (out of memory, read-only): wait it out
                    raise ResponseError(outage[0])
            return replies

        replies = await retrying(f"{len(flags)} flags and {len(done)} events", write)
        kept = done
        flag_error = read is not None and isinstance(replies[0], Exception)
        if read is not None and not flag_error:
            stats["flags"] += sum(result.created for result in added)
            # A flag Redis refused (a key of the wrong type) wrote nothing and the others were
            # added: park just the events whose flags were refused.
            refused = {id(flag): result.error for flag, result in zip(flags, added) if result.error}
            if refused:
                kept = []
                for one in done:
                    errors = [refused[id(flag)] for flag in one.flags if id(flag) in refused]
                    if errors:
                        await park(one.message, one.event, ResponseError(errors[0]))
                    else:
                        kept.append(one)
        finish_errors = [r for r in replies[read is not None:] if isinstance(r, Exception)]
        if not flag_error and not finish_errors:
            return kept
        # Not an outage (those are retried): a bug or unexpected data. Find the events it is
        # about one by one (flags the failed call had added come back as duplicates).
        log.error("writing a batch of %d events failed (%s); writing them one by one", len(done),
                  replies[0] if flag_error else finish_errors[0])
        if flag_error:
            kept = await one_by_one(kept, lambda one: add_flags(one.flags))
        if finish_errors:
            kept = await one_by_one(kept, lambda one: finish([one]))
        return kept  # park() took the others out of the batch's ledger entry

    async def add_flags(flags: list[Flag]) -> None:
        results = await queue.add_flags(flags)
        stats["flags"] += sum(result.created for result in results)
        for result in results:
            if result.error is not None:
                raise ResponseError(result.error)

    async def learn_labels(done: list[Done]) -> list[Done]:
        """Teach the models the batch's analyst decisions before the batch is acknowledged.

        ``tns.decisions`` has one partition, so exactly one worker of the group gets decisions
        in its fetches: that worker is the learner. Learning is idempotent by decision id, so a
        redelivered decision teaches nothing twice. Returns the events not parked."""
        if not runtime.models or not any(isinstance(one.event, ReviewDecided) for one in done):
            return done
        kept = []
        for one in done:
            event = one.event
            if isinstance(event, ReviewDecided):
                try:
                    result = await retrying(f"decision {event.payload.decision_id}",
                                            lambda event=event: runtime.learn(event))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug: park the label, do not stall the others
                    await park(one.message, event, exc)
                    continue
                log.info("decision %s: %s", event.payload.decision_id,
                         {k: v for k, v in result.items() if k != "outcomes"})
            kept.append(one)
        return kept

    async def one_by_one(done: list[Done], action: Callable[[Done], Awaitable[None]]) -> list[Done]:
        """Run ``action`` for each event on its own, parking those it fails for (outages are
        waited out); returns the events it succeeded for."""
        kept = []
        for one in done:
            try:
                await retrying(f"event {one.event.event_id}", lambda one=one: action(one))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await park(one.message, one.event, exc)
                continue
            kept.append(one)
        return kept

    async def publish_flag(flag: Flag) -> None:
        """Publish a flag whose case exists to ``tns.flags``, the flag log.

        Straight to faust's producer, not through ``Topic.send`` (whose channel machinery cost
        more than the send): offsets are still committed only after that producer is flushed.
        """
        delivery = await app.producer.send(
            Topics.FLAGS, f"{flag.entity_type}:{flag.entity_id}".encode(),
            flag.model_dump_json().encode(), None, None, None)
        delivery.add_done_callback(flag_delivered)
        metrics.FLAGS_PUBLISHED.labels(flag.detector_id).inc()
        metrics.EVENT_TO_FLAG.observe(seconds_since(flag.occurred_at))

    def flag_delivered(delivery: asyncio.Future[Any]) -> None:
        # The case exists already; the flag log misses this one (the alert says so).
        if not delivery.cancelled() and delivery.exception() is not None:
            log.error("a flag was not written to %s: %r", Topics.FLAGS, delivery.exception())
            metrics.FLAGS_PUBLISH_FAILED.inc()

    def queue_finish(pipe: Any, done: list[Done]) -> None:
        for one in done:
            if one.keep_input:
                runtime.queue_inputs(pipe, one.event, one.decision)
            if runtime.observers:
                runtime.queue_unlabelled(pipe, one.event, one.decision)
        ledger.queue_mark(pipe, (one.event.id for one in done), time.time())

    async def finish(done: list[Done]) -> None:
        for reply in await run_pipeline(lambda pipe: queue_finish(pipe, done)):
            if isinstance(reply, Exception):
                raise reply

    async def run_pipeline(build: Callable[[Any], None]) -> list[Any]:
        """Run the commands ``build`` queues in one round trip; the replies, errors included.
        Outage errors are raised (for retrying(): every write here is idempotent); scripts
        Redis lost (a restart) are loaded again and the round trip repeated."""
        pipe = redis.pipeline(transaction=False)
        build(pipe)
        replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            await queue.load_scripts()
            await ledger.load_script(redis)
            pipe = redis.pipeline(transaction=False)
            build(pipe)
            replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception) and is_outage(reply):
                raise reply
        return replies

    async def park(message: Any, event: Any, exc: Exception) -> None:
        """Dead-letter an event whose processing raised something other than an outage (a bug,
        or Redis data it did not expect), so it cannot hold up its partition's offsets."""
        log.error("processing failed for %s", event.event_id, exc_info=exc)
        await send_dead_letter(message, "processing_error", f"{type(exc).__name__}: {exc}")
        # A dead letter is not processed: out of the ledger, if its batch was written there.
        await retrying("ledger", lambda: redis.zrem(LEDGER, event.id))

    async def handle_one(message: Any, event: Any) -> Any:
        try:
            return await retrying(f"event {event.event_id}", lambda: processor.handle(event))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not lose the event: park it with the reason
            await park(message, event, exc)
            return None

    # The input topics come a fetch at a time (pipeline.kafka.transport): faust's per-message
    # agent path cost more CPU than deciding an event. A fetch goes through three stages, each
    # its own task: take() decodes it and starts its state script; decide_stage() decides it;
    # write_stage() writes and acknowledges it. So while batch N waits on Redis to be written,
    # batch N+1 is decided and N+2's script runs. A fetch is acknowledged only once written; a
    # stop or crash before that leaves it uncommitted, so it is fetched again, and every
    # output is idempotent.
    app.topics.add(inputs)  # subscribed; its records go to take(), not to an agent
    # One fetch waits for decide_stage (its script running meanwhile). Up to eight decided
    # batches wait for the write stage, which takes all of them in its next round trip, so a
    # slow write does not hold up deciding and the queue behind it costs one write, not eight.
    stages = Stages([decide_stage, write_stage], depth=(1, 8), gather=(False, True))

    async def take(fetched: Fetched) -> None:
        """Take one fetch of the input topics in hand: decode it, start its state script and
        queue it for the later stages. Returns once it is queued; no more is fetched until
        then. A failed stage fails this, and so the fetch loop, instead of stalling it."""
        metrics.BATCH_EVENTS.observe(len(fetched.records))
        stats["batches"] += 1
        await stages.put(await prepare(fetched))

    app.consumer.deliver_fetches(INPUT_TOPICS, take, max_records=settings.batch_size,
                                 max_wait=settings.batch_wait)

    worker_id = f"{socket.gethostname()}-{os.getpid()}"
    rules_loaded = asyncio.Event()

    if live_rules is not None:
        @app.task
        async def follow_rule_deploys() -> None:
            # Pub/sub for speed plus a 1 s poll for safety: a deploy is in force within ~1-2 s.
            await live_rules.watch(poll_interval=1.0)

    @app.timer(interval=2.0)
    async def follow_model_snapshots() -> None:
        try:
            await runtime.refresh()
        except OUTAGES:
            pass

    @app.timer(interval=2.0)
    async def observe_unlabelled() -> None:
        # Only the learner, the worker that owns tns.decisions, changes the models.
        if not runtime.observers or not _assigned(app, Topics.DECISIONS):
            return
        try:
            observed = await runtime.observe_unlabelled()
        except Exception as exc:  # the inputs wait in Redis for the next round
            if not is_outage(exc):  # a bug here must not stop the worker
                log.exception("observing unlabelled inputs failed")
            return
        if any(observed.values()):
            log.info("models observed unlabelled inputs: %s", observed)

    @app.timer(interval=2.0)
    async def heartbeat() -> None:
        # Lets `vigil up`, `vigil status` and tests see that this worker joined the group.
        assigned = _update_lag(app)
        beat = {"worker": worker_id, "assigned_partitions": assigned, "at": time.time(),
                "rules_version": live_rules.version if live_rules else None, **stats}
        try:
            await redis.set(f"vigil:worker:{worker_id}", json.dumps(beat), ex=10)
            await redis.zremrangebyscore(LEDGER, "-inf", time.time() - settings.ledger_retention)
        except OUTAGES:
            pass

    @app.on_partitions_revoked.connect
    async def forget_lag(app: faust.App, revoked: set[Any], **_: Any) -> None:
        # Another worker reports these partitions now; a stale gauge here would overstate lag.
        for tp in revoked:
            try:
                metrics.CONSUMER_LAG.remove(tp.topic, str(tp.partition))
            except KeyError:
                pass

    app.vigil_stats = stats  # type: ignore[attr-defined]
    return app


def _assigned(app: faust.App, topic: str) -> bool:
    """True if this worker consumes a partition of ``topic`` now."""
    try:
        return any(tp.topic == topic for tp in app.consumer.assignment())
    except Exception:  # consumer not started yet
        return False


def _update_lag(app: faust.App) -> int:
    """Set the consumer-lag gauge per assigned partition; returns how many are assigned."""
    try:
        consumer = app.consumer
        assignment = consumer.assignment()
    except Exception:  # consumer not started yet
        return 0
    read = getattr(consumer, "_read_offset", {})
    for tp in assignment:
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # no fetch yet for this partition
            continue
        if highwater is None:
            continue
        position = read.get(tp)
        lag = highwater - (position + 1 if position is not None else 0)
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, lag))
    return len(assignment)


def faust_worker(app: faust.App, **options: Any) -> faust.Worker:
    """A faust worker for a service: quiet, stdout left alone, and no terminal spinner.

    faust keeps a spinner at log levels of WARNING and above and, to feed it, sets the root
    logger to DEBUG: every debug line of faust and aiokafka would become a log record.

    >>> faust_worker(faust.App("doctest", broker="memory://"), loglevel="warning").spinner is None
    True
    """
    worker = faust.Worker(app, quiet=True, redirect_stdouts=False, **options)
    worker.spinner = None
    return worker


def quiet_gc() -> None:
    """Keep the cyclic garbage collector out of the way of a long-running worker.

    Everything imported and built so far lives as long as the process: frozen, the collector
    stops scanning it (a full collection of ~175,000 start-up objects took 100-160 ms, a stall
    every few seconds under load). And a young collection every 700 allocations, Python's
    default, ran ~1,000 times in 20,000 events for ~170 ms; every 20,000 it runs a few times
    (almost everything an event allocates is freed by reference counting before then).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run_worker(settings: Settings | None = None) -> None:
    """Run one worker until it is stopped (SIGTERM or Ctrl-C)."""
    from prometheus_client import start_http_server

    from pipeline.kafka.admin import create_topics

    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.create_topics:
        create_topics(settings.kafka_bootstrap,
                      topic_plan(settings.partitions))
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
        log.info("metrics on :%d/metrics", settings.metrics_port)
    app = create_app(settings)
    worker = faust_worker(app, loglevel=settings.log_level, workdir=str(settings.state_dir))
    quiet_gc()
    worker.execute_from_commandline()

