"""Two events under one event id on real Redis (the state script) and in memory (replay): an
exact duplicate (a redelivery) is processed again idempotently; another event under the id is
refused before it writes anything, with the digest it conflicts with. (The worker's dead letter
is drilled in tests/integration/test_hostile_input.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from detectors.examples import example_event
from detectors.features import assemble
from detectors.ruleset import RuleSet
from pipeline.offline.replay import InvalidLine, replay_lines
from pipeline.stores.state import DIGEST_PREFIX, MemoryState, RedisState
from pipeline.worker.parking import PARKED, Parking
from pipeline.worker.processor import Processor
from schemas.decode import decode_event_obj

FIRST = example_event("message.sent", {"message_id": "m1", "recipient_id": "u_a"})
OTHER = {**FIRST, "payload": {**FIRST["payload"], "recipient_id": "u_b"}}
THIRD = example_event("message.sent", {"message_id": "m3", "recipient_id": "u_c"})


@pytest.fixture
async def client(stack: Any) -> Any:
    redis = Redis.from_url(stack.settings.redis_url)
    yield redis
    await redis.aclose()


def test_the_digest_is_of_the_content_not_the_bytes() -> None:
    first = decode_event_obj(FIRST)
    respelled = decode_event_obj(json.loads(json.dumps(FIRST, indent=3, sort_keys=True)))
    assert first.digest == respelled.digest != decode_event_obj(OTHER).digest


@pytest.mark.parametrize("one_by_one", [False, True])
@pytest.mark.parametrize("store", ["redis", "memory"])
async def test_a_conflicting_duplicate_writes_nothing_and_names_the_first_digest(
        client: Redis, store: str, one_by_one: bool) -> None:
    state = RedisState(client, digest_ttl=600) if store == "redis" else MemoryState()
    first, other, third = map(decode_event_obj, (FIRST, OTHER, THIRD))
    stream = [first, other, first, third]
    batches = [[event] for event in stream] if one_by_one else [stream]
    loaded = [item for batch in batches for item in await state.load(batch)]
    assert [item.conflict for item in loaded] == [None, first.digest, None, None]
    # The conflicting event's recipient was never counted: u_a and u_c only.
    assert assemble(third, loaded[3].raw)["sender_recipients_1h"] == 2
    reason = loaded[1].conflict_reason(other)
    assert first.digest in reason and other.digest in reason
    if store == "redis":  # kept for the ledger's retention
        assert 590 <= await client.ttl(DIGEST_PREFIX + first.id) <= 600
        await state.close()


def test_replay_refuses_a_conflicting_duplicate_as_the_worker_does() -> None:
    out = list(replay_lines([json.dumps(FIRST), json.dumps(OTHER), json.dumps(FIRST)]))
    assert [type(item).__name__ for item in out] == ["dict", "InvalidLine", "dict"]
    bad = out[1]
    assert isinstance(bad, InvalidLine) and "conflicting_duplicate" in bad.reason


async def test_on_its_own_a_conflicting_duplicate_is_dead_lettered_as_such_not_parked() -> None:
    # The worker's fallback when a batch fails: each event through Processor.handle and the
    # parking hook. The conflict keeps its kind, and the ledger entry under the id (the first
    # event's) is not forgotten.
    processor = Processor(MemoryState(), lambda: RuleSet((), fingerprint="none"))
    first, other = decode_event_obj(FIRST), decode_event_obj(OTHER)
    await processor.handle(first)
    sent: list[tuple[str, str]] = []
    forgotten: list[str] = []

    class Letters:
        async def send(self, message: Any, kind: str, reason: str) -> None:
            sent.append((kind, reason))

    async def forget(event_id: str) -> None:
        forgotten.append(event_id)

    result = await Parking(Letters(), forget).attempt(None, other, lambda: processor.handle(other))
    assert result is PARKED
    assert [kind for kind, _ in sent] == ["conflicting_duplicate"] and forgotten == []
    assert first.digest in sent[0][1]
