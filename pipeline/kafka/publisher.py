"""The publisher API platform services use to send events to Vigil.

Small and safe: every event is validated against its contract before it leaves the process,
keyed by ``subject_id`` so one user's events stay in order (on the partition any Java-compatible
client picks for the key: murmur2), sent by an idempotent producer with ``acks=all``, and a
delivery failure is raised, never swallowed.

Consent changes are a control-plane write: given ``consent_registry`` (the Redis URL), the
publisher records a ``consent.changed`` in the registry *before* sending it, so an opt-out is in
force for every event any worker processes from then on, including events already queued
behind it on other topics. The Kafka copy keeps the history and feeds other consumers.

    with Publisher("kafka:9092") as publisher:
        publisher.publish(event_dict)      # validates; raises InvalidEvent on a bad event
                                           # (or one dated past the workers' clock bound)
    # leaving the block flushes; any failed delivery raises PublishError
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from pipeline.stores.consent import PREFIX as CONSENT_PREFIX
from pipeline.stores.consent import consent_member
from schemas.clock import ClockBound
from schemas.decode import MAX_EVENT_BYTES, decode_event_obj
from schemas.errors import VigilError
from schemas.events import ConsentChanged, Envelope
from schemas.topics import TOPIC_BY_TYPE


class PublishError(VigilError):
    """Kafka did not accept one or more events; ``failures`` names them and why."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        shown = "; ".join(f"{event_id}: {why}" for event_id, why in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} event(s) were not delivered: {shown}{more}")


class Publisher:
    def __init__(self, bootstrap_servers: str, *, client_id: str = "vigil-publisher",
                 delivery_timeout_ms: int = 30_000, config: dict[str, Any] | None = None,
                 consent_registry: str | None = None,
                 clock_bound: ClockBound | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``config`` adds or overrides librdkafka settings (``{"linger.ms": 20}``);
        ``consent_registry`` is the Redis URL consent changes are written through to;
        ``clock_bound`` is the workers' (``VIGIL_MAX_CLOCK_SKEW``): an event they would
        dead-letter as ``clock_skew`` is refused here, before the registry or Kafka sees it."""
        self._clock_bound = clock_bound if clock_bound is not None else ClockBound()
        self._clock = clock
        self._registry = None
        if consent_registry:
            import redis

            self._registry = redis.Redis.from_url(consent_registry, socket_timeout=5)
        self._producer = Producer({
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            # The Java client's partitioner (murmur2; kafka-python, aiokafka and so the worker's
            # own produces use it too): librdkafka's default (CRC32) puts only about a quarter
            # of keys where a JVM service publishing to the same topics would.
            "partitioner": "murmur2_random",
            "delivery.timeout.ms": delivery_timeout_ms,
            **(config or {}),
        })
        self._failures: list[tuple[str, str]] = []
        self.delivered = 0

    def publish(self, event: Envelope | dict[str, Any], *,
                on_delivered: Callable[[], None] | None = None) -> str:
        """Validate and enqueue one event; returns its event_id. Call :meth:`flush` to confirm."""
        model = event if isinstance(event, Envelope) else decode_event_obj(event)
        value = model.model_dump_json().encode()
        if len(value) > MAX_EVENT_BYTES:
            from schemas.errors import InvalidEvent
            raise InvalidEvent("oversized", f"event is {len(value)} bytes; the limit is {MAX_EVENT_BYTES}")
        self._clock_bound.check(model, self._clock())
        event_id = str(model.event_id)
        if self._registry is not None and isinstance(model, ConsentChanged):
            # Before Kafka: if this raises, nothing was sent and the caller retries.
            self._registry.zadd(CONSENT_PREFIX + model.subject_id,
                                {consent_member(model): model.payload.changed_at.timestamp()})

        self._produce(TOPIC_BY_TYPE[model.type], model.subject_id.encode(), value, event_id,
                      on_delivered)
        return event_id

    def publish_record(self, topic: str, record_id: str, value: bytes, *, key: bytes,
                       on_delivered: Callable[[], None] | None = None) -> None:
        """Enqueue one of Vigil's own output records (a platform action: validated by its
        producer), tracked like an event: :meth:`flush` raises if it was not delivered."""
        self._produce(topic, key, value, record_id, on_delivered)

    def _produce(self, topic: str, key: bytes, value: bytes, record_id: str,
                 on_delivered: Callable[[], None] | None) -> None:
        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                self._failures.append((record_id, err.str()))
            else:
                self.delivered += 1
                if on_delivered:
                    on_delivered()

        while True:
            try:
                self._producer.produce(topic, key=key, value=value, on_delivery=delivered)
                break
            except BufferError:  # local queue full: serve callbacks to make room, then retry
                self._producer.poll(0.1)
        self._producer.poll(0)

    def publish_raw(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Send bytes unchecked: only for tests and tools that must produce invalid input."""
        self._producer.produce(topic, key=key, value=value)
        self._producer.poll(0)

    def publish_many(self, events: Iterable[Envelope | dict[str, Any]]) -> int:
        count = 0
        for event in events:
            self.publish(event)
            count += 1
        self.flush()
        return count

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every enqueued event; raise :class:`PublishError` if any was not delivered."""
        remaining = self._producer.flush(timeout)
        failures, self._failures = self._failures, []
        if remaining:
            failures.append(("(pending)", f"{remaining} event(s) still undelivered after {timeout}s"))
        if failures:
            raise PublishError(failures)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.flush()
        else:
            self._producer.flush(5)


def read_jsonl(lines: Iterable[str]) -> Iterable[tuple[int, Any]]:
    """(line number, parsed JSON or the JSONDecodeError) for every non-blank line."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, exc
