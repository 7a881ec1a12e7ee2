"""The one processing-error hook, and the worker's stages giving up on an event through it: a
batch that cannot be decided, a flag that cannot be built, a label that cannot be learned each
park only the event it is about."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from detectors.examples import example_event
from detectors.ruleset import RuleSet
from pipeline.rules.source import StaticRules
from pipeline.stores.state import Loaded
from pipeline.worker.batches import Batch, Done
from pipeline.worker.parking import PARKED, Parking
from pipeline.worker.stats import WorkerStats
from pipeline.worker.worker import Worker
from schemas.decode import decode_event_obj


class Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str, str]] = []

    async def send(self, message: Any, kind: str, reason: str) -> None:
        self.sent.append((message, kind, reason))


class Ledger:
    """Forgets event ids; Redis is out for the first ``outages`` calls."""

    def __init__(self, outages: int = 0) -> None:
        self.outages = outages
        self.forgotten: list[str] = []

    async def forget(self, event_id: str) -> None:
        if self.outages:
            self.outages -= 1
            raise RedisConnectionError("Redis is down")
        self.forgotten.append(event_id)


def message(offset: int) -> Any:
    return SimpleNamespace(topic="tns.messages", partition=0, offset=offset, key=None, value=b"")


def event(event_type: str = "message.sent", **payload: Any) -> Any:
    return decode_event_obj(example_event(event_type, payload, event_id=str(uuid.uuid4())))


async def test_parking_dead_letters_the_event_and_takes_it_out_of_the_ledger() -> None:
    letters, ledger = Letters(), Ledger(outages=1)  # the ledger's outage is waited out
    parked = event()

    await Parking(letters, ledger.forget).park(message(7), parked, ValueError("a bug"))

    assert [(m.offset, kind, reason) for m, kind, reason in letters.sent] == [
        (7, "processing_error", "ValueError: a bug")]
    assert ledger.forgotten == [parked.id]


async def test_an_attempt_waits_out_an_outage_and_parks_any_other_failure() -> None:
    letters, ledger = Letters(), Ledger()
    parking = Parking(letters, ledger.forget)
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RedisConnectionError("Redis is down")
        return "done"

    async def broken() -> str:
        raise KeyError("unexpected data")

    assert await parking.attempt(message(1), event(), flaky) == "done"
    assert letters.sent == [] and len(calls) == 2
    assert await parking.attempt(message(2), event(), broken) is PARKED
    assert [(m.offset, reason) for m, _, reason in letters.sent] == [(2, "KeyError: 'unexpected data'")]


class Processor:
    """Deciding the batch fails (a bug); on their own, the events in ``bad`` fail too."""

    def __init__(self, bad: set[str]) -> None:
        self.bad = bad

    def decide(self, events: Any, loaded: Any) -> Any:
        raise ValueError("a bug in deciding the batch")

    async def handle(self, event: Any) -> Any:
        if event.id in self.bad:
            raise ValueError(f"a bug in {event.id}")
        return SimpleNamespace(findings=[])


def worker(processor: Any = None, learner: Any = None) -> tuple[Worker, Letters, Ledger]:
    letters, ledger = Letters(), Ledger()
    return Worker(state=None, processor=processor, rules=StaticRules(RuleSet((), fingerprint="none")),
                  learner=learner, writer=None, dead_letters=letters, flag_log=None,
                  parking=Parking(letters, ledger.forget), stats=WorkerStats()), letters, ledger


def batch(events: list[Any]) -> Batch:
    loading: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    loading.set_result([Loaded({}, None, None) for _ in events])
    return Batch(fetched=None, started=0.0,  # type: ignore[arg-type]
                 decoded=[(message(i), e) for i, e in enumerate(events)], loading=loading)


async def test_a_batch_that_cannot_be_decided_parks_only_the_events_that_fail_alone() -> None:
    events = [event() for _ in range(4)]
    w, letters, ledger = worker(Processor(bad={events[1].id}))

    decided = await w.decide(batch(events))

    assert [one.event for one in decided.done] == [events[0], events[2], events[3]]
    assert [(m.offset, kind) for m, kind, _ in letters.sent] == [(1, "processing_error")]
    assert ledger.forgotten == [events[1].id]


async def test_an_event_whose_flags_cannot_be_built_is_parked_alone() -> None:
    events = [event() for _ in range(3)]

    class Deciding(Processor):
        def decide(self, events: Any, loaded: Any) -> Any:
            # The second decision's finding is not a detector result: building its flag fails.
            return [SimpleNamespace(findings=[object()] if i == 1 else []) for i in range(3)]

    w, letters, ledger = worker(Deciding(bad=set()))
    decided = await w.decide(batch(events))

    assert [one.event for one in decided.done] == [events[0], events[2]]
    assert [m.offset for m, _, _ in letters.sent] == [1]
    assert ledger.forgotten == [events[1].id]


async def test_a_label_the_models_cannot_learn_is_parked_and_the_others_go_on() -> None:
    labels = [event("review.decided", decision_id=f"d_{i}") for i in range(3)]
    other = event()

    class Learner:
        by_id = {"message.scam_model": object()}

        async def learn(self, decision: Any) -> dict[str, Any]:
            if decision.payload.decision_id == "d_1":
                raise ValueError("a bug in learning")
            return {"learned": ["message.scam_model"], "outcomes": []}

    w, letters, ledger = worker(learner=Learner())
    done = [Done(message(i), e, None, [], False) for i, e in enumerate([*labels, other])]

    kept = await w.learn_labels(done)

    assert [one.event for one in kept] == [labels[0], labels[2], other]
    assert [m.offset for m, _, _ in letters.sent] == [1]
    assert ledger.forgotten == [labels[1].id]
