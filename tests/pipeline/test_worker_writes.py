"""The worker's write and finish stages with fakes: a write is sent while the one before is
still being finished, unless that one has steps after its write (an analyst's decision to
learn), which the next write waits for."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

from detectors.examples import example_event
from pipeline.worker.batches import Batch, Done
from pipeline.worker.stats import WorkerStats
from pipeline.worker.worker import Worker
from pipeline.worker.writer import Sending
from schemas.decode import decode_event_obj


class Writer:
    """Sends at once; a write is confirmed when the test lets it (``landed``)."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.landed: dict[int, asyncio.Event] = {}

    def send(self, done: list[Done]) -> Sending:
        self.sent.append([one.event.id for one in done])
        self.landed[len(self.sent) - 1] = asyncio.Event()
        return Sending(done, [], reply=None)

    async def confirm(self, sending: Sending) -> list[Done]:
        index = next(i for i, ids in enumerate(self.sent)
                     if ids == [one.event.id for one in sending.done])
        await self.landed[index].wait()
        return sending.done


class Learner:
    by_id = {"a_model": object()}

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.learned: list[str] = []

    async def learn(self, event: Any) -> dict[str, Any]:
        await self.release.wait()
        self.learned.append(event.id)
        return {}


class Parking:
    async def attempt(self, message: Any, event: Any, action: Any, what: str = "") -> Any:
        return await action()


def batch(event_type: str) -> Batch:
    event = decode_event_obj(example_event(event_type, event_id=str(uuid.uuid4())))
    message = SimpleNamespace(topic="t", partition=0, offset=0, key=None, value=b"")
    fetched = SimpleNamespace(acked=False)
    fetched.ack = lambda: setattr(fetched, "acked", True)
    made = Batch(fetched, started=0.0)  # type: ignore[arg-type]
    # Delivered again (so no decision is counted: these stand-ins have none to count).
    made.done.append(Done(message, event, SimpleNamespace(findings=[]), [], keep_input=False,
                          redelivered=True))
    return made


def worker(writer: Writer, learner: Learner) -> Worker:
    fake: Any = SimpleNamespace()
    return Worker(state=fake, processor=fake, rules=fake, learner=learner,  # type: ignore[arg-type]
                  writer=writer, dead_letters=fake, flag_log=SimpleNamespace(publish=None),
                  parking=Parking(), stats=WorkerStats())  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_write_is_sent_while_the_one_before_waits_for_its_reply() -> None:
    writer, learner = Writer(), Learner()
    w = worker(writer, learner)
    first, second = batch("message.sent"), batch("message.sent")
    finishing = asyncio.ensure_future(w.finish(await w.write([first])))
    sending = asyncio.ensure_future(w.write([second]))
    await settle()
    assert len(writer.sent) == 2, "the second write waited for the first one's reply"
    assert not first.fetched.acked
    writer.landed[0].set()
    await finishing
    assert first.fetched.acked and not second.fetched.acked  # acknowledged in order
    writer.landed[1].set()
    await w.finish(await sending)
    assert second.fetched.acked


async def test_a_write_after_an_analysts_decision_waits_until_it_is_learned() -> None:
    writer, learner = Writer(), Learner()
    w = worker(writer, learner)
    decided, after = batch("review.decided"), batch("message.sent")
    finishing = asyncio.ensure_future(w.finish(await w.write([decided])))
    writer.landed[0].set()  # the decision's write landed; learning it has not finished
    sending = asyncio.ensure_future(w.write([after]))
    await settle()
    assert len(writer.sent) == 1, "the next write went out before the decision was learned"
    learner.release.set()
    await finishing
    sent = await sending
    assert learner.learned == [decided.done[0].event.id]
    assert len(writer.sent) == 2
    writer.landed[1].set()
    await w.finish(sent)
    assert decided.fetched.acked and after.fetched.acked
