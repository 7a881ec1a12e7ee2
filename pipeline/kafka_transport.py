"""faust's aiokafka transport, tuned for Vigil: a bounded fetch wait, optionally an idempotent
producer. Registered as broker schemes through the ``faust.transports`` entry point.

* faust hard-codes ``fetch_max_wait_ms=1500``. A broker that does not answer a long-poll fetch
  as soon as data arrives (the embedded Tansu broker waits the full time) then adds up to
  1.5 s to every fetch, and so to the time from event to case. ``VIGIL_FETCH_MAX_WAIT_MS`` (default 10) bounds that wait.
* faust turns on ``enable_idempotence`` only inside Kafka transactions; outside them a producer
  retry can write a flag or dead letter twice (harmless: flag ids are idempotent, but noisy).
  ``VIGIL_IDEMPOTENT_PRODUCER=1`` selects the ``vigil-kafka-idempotent`` scheme on a real
  Kafka cluster. It is off for the embedded broker, which answers aiokafka's InitProducerId
  with UnknownError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "vigil-kafka"
IDEMPOTENT_SCHEME = "vigil-kafka-idempotent"


def fetch_max_wait_ms() -> int:
    return int(os.environ.get("VIGIL_FETCH_MAX_WAIT_MS", "10"))


class BoundedWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms()  # read when the consumer starts
        return consumer


class BoundedWaitConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> BoundedWaitConsumerThread:
        return BoundedWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type] = BoundedWaitConsumer


class IdempotentTransport(Transport):
    Producer: ClassVar[type] = IdempotentProducer
