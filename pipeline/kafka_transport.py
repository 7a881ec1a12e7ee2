"""faust's aiokafka transport with an idempotent producer.

faust turns on ``enable_idempotence`` only inside Kafka transactions; outside them a producer
retry can write a flag or dead letter twice (harmless: flag ids are idempotent, but noisy).
Registered as the ``idempotent-kafka://`` broker scheme (entry point ``faust.transports`` in
pyproject) and chosen with ``VIGIL_IDEMPOTENT_PRODUCER=1`` on a real Kafka cluster. It is off
for the embedded Tansu broker, which answers aiokafka's InitProducerId with UnknownError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "idempotent-kafka"


class IdempotentProducer(faust_aiokafka.Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class Transport(faust_aiokafka.Transport):
    Producer: ClassVar[type] = IdempotentProducer
