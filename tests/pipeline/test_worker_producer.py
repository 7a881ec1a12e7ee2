"""The settings the worker's Kafka producer really gets (faust hands them to aiokafka)."""

from __future__ import annotations

import asyncio
import json

from detectors.ruleset import load_rules
from pipeline.settings import Settings
from pipeline.sim import generate
from pipeline.stores.state import MemoryState
from pipeline.worker.app import build_app
from pipeline.worker.flags import flags_for
from pipeline.worker.processor import Processor
from schemas.decode import decode_event
from schemas.topics import TOPIC_BY_TYPE

#: aiokafka's per-record overhead in a v2 batch is at most ~20 bytes; the key adds its length.
RECORD_OVERHEAD = 64


def producer_settings() -> dict:
    app = build_app(Settings.from_env().replace(embedded=True))  # no key needed to build it
    return dict(app.producer._settings_default())


def test_the_flag_producer_batches_512_kib_and_waits_for_every_replica() -> None:
    settings = producer_settings()
    # faust's default is 16 KiB: a write's flags queued behind each full batch for a round trip.
    assert settings["max_batch_size"] == 512 * 1024
    # A full batch must fit in one produce request, or aiokafka would refuse to send it.
    assert settings["max_request_size"] >= settings["max_batch_size"]
    assert settings["acks"] == -1  # a flag is sent when all in-sync replicas have it


def test_a_fetch_of_fraud_heavy_traffic_has_its_flags_fit_in_one_producer_batch() -> None:
    """What the 512 KiB is sized for: every flag of a full fetch (``VIGIL_BATCH_SIZE`` events),
    at six times the simulator's usual fraud rate, goes out in one batch with room for more."""
    batch_size, limit = Settings.from_env().batch_size, producer_settings()["max_batch_size"]
    events = [decode_event(json.dumps(s.envelope).encode(), topic=TOPIC_BY_TYPE[s.envelope["type"]])
              for s in generate(seed=7, count=batch_size * 5, fraud_rate=0.3,
                                mean_gap_seconds=0.5)]
    rules = load_rules()
    decisions = asyncio.run(Processor(MemoryState(), lambda: rules).handle_batch(events))
    sizes = []
    for start in range(0, len(events), batch_size):
        flags = [flag for event, decision in zip(events[start:start + batch_size],
                                                 decisions[start:start + batch_size])
                 for flag in flags_for(event, decision)]
        sizes.append(sum(len(flag.model_dump_json()) + len(flag.entity_id) + RECORD_OVERHEAD
                         for flag in flags))
    assert min(sizes) > 0  # the traffic did raise flags
    assert max(sizes) < limit / 2, sizes
