"""Topic administration against any Kafka cluster: the worker creates missing topics at start
(``VIGIL_CREATE_TOPICS``), the embedded stack creates them for tests and the demo."""

from __future__ import annotations

import concurrent.futures
import logging
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from schemas.errors import VigilError
from schemas.topics import RETENTION_MS

if TYPE_CHECKING:  # client libraries are imported lazily so importing this module stays cheap
    from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)
_POLL_INTERVAL = 0.05
# Kafka's own rule for topic names; Tansu does not enforce it (nor partitions >= 1), so we do.
_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class TopicSetupError(VigilError):
    """Topics could not be created or did not show up in the broker's metadata."""


def admin_client(bootstrap: str) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    # librdkafka's default reconnect backoff grows to 10 s, far too slow to notice a fresh broker.
    return AdminClient(
        {
            "bootstrap.servers": bootstrap,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 250,
            "log.connection.close": False,
        }
    )


def _config(name: str, compacted: set[str]) -> dict[str, str]:
    """A topic's configuration: compaction if asked, and Vigil's retention for its own topics
    (:data:`schemas.topics.RETENTION_MS`: raw content leaves the broker after a week).

    >>> _config("marketplace.messages", set())
    {'retention.ms': '604800000'}
    >>> _config("vigil.test.state", {"vigil.test.state"})
    {'cleanup.policy': 'compact'}
    """
    config = {"cleanup.policy": "compact"} if name in compacted else {}
    if name in RETENTION_MS:
        config["retention.ms"] = str(RETENTION_MS[name])
    return config


def create_topics(
    bootstrap: str,
    topics: dict[str, int],
    *,
    compacted: Iterable[str] = (),
    timeout: float = 20,
) -> None:
    """Create ``{topic: partitions}`` (replication 1); ``compacted`` ones get cleanup.policy=compact,
    and Vigil's own topics their ``retention.ms`` (:data:`schemas.topics.RETENTION_MS`).

    Idempotent: topics that already exist are left as they are (a partition-count mismatch is
    logged, not fixed). Returns once every topic shows up in the broker's metadata.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    compacted = set(compacted)
    unknown = compacted - set(topics)
    if unknown:
        raise TopicSetupError(f"compacted topics {sorted(unknown)} are not in the topics to create")
    for name, partitions in topics.items():
        # Tansu accepts bad names and 0 partitions, leaving a topic no client can use: fail here.
        if not _TOPIC_RE.match(name) or name in (".", ".."):
            raise TopicSetupError(f"invalid topic name {name!r}: use 1-249 of [A-Za-z0-9._-]")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise TopicSetupError(f"topic {name!r}: partitions must be an int >= 1, got {partitions!r}")
    if not topics:
        return

    deadline = time.monotonic() + timeout
    admin = admin_client(bootstrap)
    new = [
        NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=1,
            config=_config(name, compacted),
        )
        for name, partitions in topics.items()
    ]
    try:
        futures = admin.create_topics(new, request_timeout=max(1.0, timeout))
    except KafkaException as exc:
        raise TopicSetupError(f"cannot create topics on {bootstrap}: {exc}") from exc

    failures: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            failures.append(f"{name}: no answer from {bootstrap} within {timeout:g}s")
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            failures.append(f"{name}: {err.str() if err is not None else exc}")
    if failures:
        raise TopicSetupError(f"creating topics on {bootstrap} failed: " + "; ".join(failures))

    # CreateTopics can answer before metadata reflects the topics; producers need the metadata.
    while True:
        try:
            md = admin.list_topics(timeout=max(0.2, min(2.0, deadline - time.monotonic())))
        except KafkaException as exc:
            missing, detail = sorted(topics), str(exc)
        else:
            missing = [
                n for n in topics if n not in md.topics or md.topics[n].error is not None or not md.topics[n].partitions
            ]
            detail = "not in metadata"
            if not missing:
                for name, partitions in topics.items():
                    have = len(md.topics[name].partitions)
                    if have != partitions:
                        log.warning("topic %s already exists with %d partitions, not %d", name, have, partitions)
                return
        if time.monotonic() >= deadline:
            raise TopicSetupError(f"topics {missing} on {bootstrap} {detail} after {timeout:g}s")
        time.sleep(_POLL_INTERVAL)
