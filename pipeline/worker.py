"""The faust worker: every input topic in, flags and dead letters out, flags into the review queue.

Delivery is at least once (the embedded broker has no Kafka transactions): offsets are committed
only after the producer is flushed, and every output is idempotent (feature counters keyed by
event id, flag ids derived from event and detector, a Lua script that adds each flag once), so a
redelivered event changes nothing.
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
from pipeline.config import Settings
from pipeline.consent_store import RedisConsentStore
from pipeline.dead_letters import dead_letter
from pipeline.feature_store import RedisFeatureStore
from pipeline.flags import flags_for
from pipeline.processor import Processor
from pipeline.review_queue import ReviewQueue
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.outputs import Flag
from schemas.topics import INPUT_TOPICS, Topics

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


def create_app(settings: Settings, rules: Callable[[], RuleSet] | None = None) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
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
    ruleset = load_rules() if rules is None else None
    processor = Processor(RedisFeatureStore(redis), RedisConsentStore(redis),
                          rules or (lambda: ruleset),  # type: ignore[arg-type, return-value]
                          policy_version=settings.policy_version)
    queue = ReviewQueue(redis)
    app.vigil_stats = {"processed": 0, "dead_letters": 0, "flags": 0}  # type: ignore[attr-defined]

    async def send_dead_letter(message: Any, kind: str, reason: str) -> None:
        letter = dead_letter(kind=kind, reason=reason, topic=message.topic,
                             partition=message.partition, offset=message.offset,
                             key=message.key, value=message.value)
        log.info("dead letter %s/%s@%s: %s", message.topic, message.partition, message.offset, reason)
        await dead_letters.send(key=message.key, value=letter.model_dump_json().encode())
        app.vigil_stats["dead_letters"] += 1  # type: ignore[attr-defined]

    @app.agent(inputs, name="vigil.process")
    async def process(stream: faust.StreamT) -> None:
        async for item in stream.events():
            message = item.message
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
            # The ledger lets operators and failure drills account for every event exactly.
            await retrying("ledger", lambda: redis.zadd(LEDGER, {str(event.event_id): time.time()}))
            app.vigil_stats["processed"] += 1  # type: ignore[attr-defined]

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
            if result.created:
                app.vigil_stats["flags"] += 1  # type: ignore[attr-defined]

    worker_id = f"{socket.gethostname()}-{os.getpid()}"

    @app.timer(interval=2.0)
    async def heartbeat() -> None:
        # Lets `vigil up`, `vigil status` and tests see that this worker joined the group.
        try:
            assigned = len(app.consumer.assignment())
        except Exception:  # consumer not started yet
            assigned = 0
        beat = {"worker": worker_id, "assigned_partitions": assigned, "at": time.time(),
                **app.vigil_stats}  # type: ignore[attr-defined]
        try:
            await redis.set(f"vigil:worker:{worker_id}", json.dumps(beat), ex=10)
            await redis.zremrangebyscore(LEDGER, "-inf", time.time() - settings.ledger_retention)
        except TRANSIENT:
            pass

    return app


def run_worker(settings: Settings | None = None) -> None:
    """Run one worker until it is stopped (SIGTERM or Ctrl-C)."""
    from pipeline.embedded import create_topics
    from schemas.topics import OUTPUT_TOPICS

    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    create_topics(settings.kafka_bootstrap,
                  {t: settings.partitions for t in (*INPUT_TOPICS, *OUTPUT_TOPICS)})
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True,
                          redirect_stdouts=False, workdir=str(settings.state_dir))
    worker.execute_from_commandline()


if __name__ == "__main__":
    run_worker()
