"""The faust worker: every input topic in, flags and dead letters out, flags into the review queue.

Delivery is at least once (the embedded broker has no Kafka transactions): offsets are committed
only after the producer is flushed, and every output is idempotent (feature counters keyed by
event id, flag ids derived from event and detector, a Lua script that adds each flag once), so a
redelivered event changes nothing. The agent reads as the core's contract::

    event = decode(raw)                   # schemas/: bytes -> typed event, or a dead letter
    decision = await processor.handle(event)   # context from Redis, then the pure decide()
    await apply(event, decision)          # flags, ledger, metrics
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import faust
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from detectors.ruleset import RuleSet, load_rules
from pipeline import metrics
from pipeline.config import Settings
from pipeline.consent_store import RedisConsentStore
from pipeline.dead_letters import dead_letter
from pipeline.feature_store import RedisFeatureStore
from pipeline.flags import flags_for
from pipeline.kafka_transport import SCHEME
from pipeline.observe import record_decision, seconds_since
from pipeline.processor import Processor
from pipeline.review_queue import ReviewQueue
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.outputs import Flag
from schemas.topics import INPUT_TOPICS, OUTPUT_TOPICS, Topics

log = logging.getLogger("vigil.worker")
T = TypeVar("T")
#: Event ids processed in the last ``ledger_retention`` seconds, with the time they were done.
LEDGER = "vigil:ledger:processed"
#: Errors that mean "Redis is unreachable for now": wait and retry, never skip the event.
TRANSIENT = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ConnectionError, OSError)


async def retrying(what: str, action: Callable[[], Awaitable[T]], *, max_delay: float = 5.0) -> T:
    """Run ``action`` until it succeeds, backing off while Redis is down."""
    delay = 0.05
    while True:
        try:
            return await action()
        except TRANSIENT as exc:
            log.warning("%s: Redis unavailable (%s); retrying in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)


def broker_urls(bootstrap: str, *, idempotent: bool = False) -> str:
    """faust's broker setting for a Kafka bootstrap list (``h1:9092,h2:9092``).

    >>> broker_urls("k1:9092,k2:9092", idempotent=True)
    'idempotent-kafka://k1:9092;idempotent-kafka://k2:9092'
    """
    scheme = SCHEME if idempotent else "kafka"
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
        worker_redirect_stdouts=False,
    )
    inputs = app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw")
    flags_topic = app.topic(Topics.FLAGS, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(Topics.DEAD_LETTERS, key_serializer="raw", value_serializer="raw")

    redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                           health_check_interval=10)
    packaged = load_rules() if rules is None else None
    processor = Processor(RedisFeatureStore(redis), RedisConsentStore(redis),
                          rules or (lambda: packaged),  # type: ignore[arg-type, return-value]
                          policy_version=settings.policy_version)
    queue = ReviewQueue(redis)
    stats = {"processed": 0, "dead_letters": 0, "flags": 0}

    async def send_dead_letter(message: Any, kind: str, reason: str) -> None:
        letter = dead_letter(kind=kind, reason=reason, topic=message.topic,
                             partition=message.partition, offset=message.offset,
                             key=message.key, value=message.value)
        log.info("dead letter %s/%s@%s: %s", message.topic, message.partition, message.offset, reason)
        await dead_letters.send(key=message.key, value=letter.model_dump_json().encode())
        metrics.DEAD_LETTERS.labels(message.topic, kind).inc()
        stats["dead_letters"] += 1

    @app.agent(inputs, name="vigil.process")
    async def process(stream: faust.StreamT) -> None:
        async for item in stream.events():
            message = item.message
            started = time.perf_counter()
            try:
                event = decode_event(message.value, topic=message.topic)
            except InvalidEvent as exc:
                await send_dead_letter(message, exc.kind, exc.reason)
                continue
            try:
                decision = await retrying(f"event {event.event_id}", lambda: processor.handle(event))
            except Exception as exc:  # a bug must not lose the event: park it with the reason
                log.exception("processing failed for %s", event.event_id)
                await send_dead_letter(message, "processing_error", f"{type(exc).__name__}: {exc}")
                continue
            for flag in flags_for(event, decision):
                await flags_topic.send(key=f"{flag.entity_type}:{flag.entity_id}".encode(),
                                       value=flag.model_dump_json().encode())
                metrics.FLAGS_PUBLISHED.labels(flag.detector_id).inc()
                metrics.EVENT_TO_FLAG.observe(seconds_since(event.occurred_at))
            # The ledger lets operators and failure drills account for every event exactly.
            await retrying("ledger", lambda: redis.zadd(LEDGER, {str(event.event_id): time.time()}))
            record_decision(message.topic, decision)
            metrics.PROCESSING.observe(time.perf_counter() - started)
            stats["processed"] += 1

    @app.agent(flags_topic, name="vigil.queue_sink")
    async def sink(stream: faust.StreamT) -> None:
        async for item in stream.events():
            message = item.message
            try:
                flag = Flag.model_validate_json(message.value)
            except ValueError as exc:
                await send_dead_letter(message, "invalid_flag", str(exc).splitlines()[0])
                continue
            result = await retrying(f"flag {flag.flag_id}", lambda: queue.add_flag(flag))
            outcome = getattr(result, "suppressed", None) or ("created" if result.created else "duplicate")
            metrics.QUEUE_FLAGS.labels(flag.detector_id, outcome).inc()
            if result.created:
                metrics.FLAG_TO_CASE.observe(seconds_since(flag.flagged_at))
                stats["flags"] += 1

    worker_id = f"{socket.gethostname()}-{os.getpid()}"

    @app.timer(interval=2.0)
    async def heartbeat() -> None:
        # Lets `vigil up`, `vigil status` and tests see that this worker joined the group.
        assigned = _update_lag(app)
        beat = {"worker": worker_id, "assigned_partitions": assigned, "at": time.time(), **stats}
        try:
            await redis.set(f"vigil:worker:{worker_id}", json.dumps(beat), ex=10)
            await redis.zremrangebyscore(LEDGER, "-inf", time.time() - settings.ledger_retention)
        except TRANSIENT:
            pass

    app.vigil_stats = stats  # type: ignore[attr-defined]
    return app


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


def run_worker(settings: Settings | None = None) -> None:
    """Run one worker until it is stopped (SIGTERM or Ctrl-C)."""
    from prometheus_client import start_http_server

    from pipeline.embedded import create_topics

    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.create_topics:
        create_topics(settings.kafka_bootstrap,
                      {t: settings.partitions for t in (*INPUT_TOPICS, *OUTPUT_TOPICS)})
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
        log.info("metrics on :%d/metrics", settings.metrics_port)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True,
                          redirect_stdouts=False, workdir=str(settings.state_dir))
    worker.execute_from_commandline()


if __name__ == "__main__":
    run_worker()
