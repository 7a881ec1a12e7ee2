"""Joins that wait, counters counted late and event time, on real Redis and in memory alike
(:mod:`pipeline.stores.joins`): what is held, what a partner's arrival releases, what is let
go at window end or when the books are full, and what is too late to be counted."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from detectors.examples import example_event
from detectors.features import assemble
from detectors.ordering import Arrive, Hold, JoinBook
from pipeline.offline.replay import InvalidLine, final_records, replay_lines
from pipeline.stores.joins import BatchJoins, JoinSettings, MemoryJoins, queue_release
from pipeline.stores.state import Loaded, MemoryState, RedisState
from pipeline.worker.late import redecide
from pipeline.worker.processor import Processor
from schemas.decode import decode_event_obj
from schemas.events import Envelope
from schemas.topics import INPUT_TOPICS, TOPIC_BY_TYPE
from tests.support.traffic import simulated

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
NOW = (T0 + timedelta(days=1)).timestamp


def event(kind: str, n: int, at: datetime, **payload: Any) -> Envelope:
    subject = payload.pop("subject", None)
    envelope = example_event(kind, payload, occurred_at=at.isoformat(),
                             event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}{n}")))
    if subject is not None:
        envelope["subject_id"] = subject
    return decode_event_obj(envelope)


def proposal(n: int, at: datetime, job: str) -> Envelope:
    return event("proposal.submitted", n, at, job_id=job, proposal_id=f"p{n}", freelancer_id="f1",
                 subject="f1", ai_assisted=True)


def job_post(n: int, at: datetime, job: str) -> Envelope:
    return event("job_post.created", n, at, job_id=job, client_id="c1", subject="c1",
                 genai_restricted=True)


def signup(n: int, at: datetime, device: str = "dev1") -> Envelope:
    return event("user.signed_up", n, at, user_id=f"u{n}", device_id=device, subject=f"u{n}",
                 ip=f"198.51.{n}.7")


class Harness:
    """One state (Redis or memory) fed one event per batch, partition 0 of its topic."""

    def __init__(self, state: Any, redis: Redis | None) -> None:
        self.state, self.redis = state, redis

    async def load(self, *events: Envelope, redo: bool = False) -> list[Loaded]:
        state = self.state
        if isinstance(state, RedisState):
            prepared = state.prepare(events, positions=[(TOPIC_BY_TYPE[e.type], 0) for e in events],
                                     redo=redo)
            loaded = await state.submit(prepared)
            self.last = prepared.joins
            return loaded
        # Counted per batch, as the script replies.
        state.join_counts = BatchJoins(low_watermarks=state.join_counts.low_watermarks)
        loaded = await state.load(events, redo=redo)
        self.last = state.join_counts
        return loaded

    async def written(self, holds: list[Any]) -> None:
        """The re-decisions' write: their holds leave the books."""
        if self.redis is not None:
            pipe = self.redis.pipeline(transaction=False)
            queue_release(pipe, holds)
            await pipe.execute()
        else:
            for hold in holds:
                self.state.joins.release(hold)

    def counts(self) -> Any:
        return self.last


@pytest.fixture(params=["redis", "memory"])
async def make(request: pytest.FixtureRequest, redis_url: str) -> Any:
    clients = []

    def build(**settings: Any) -> Harness:
        joins = JoinSettings(**settings)
        if request.param == "memory":
            return Harness(MemoryState(clock=NOW, joins=joins), None)
        client = Redis.from_url(redis_url)
        clients.append(client)
        return Harness(RedisState(client, clock=NOW, joins=joins,
                                  partitions={t: 1 for t in INPUT_TOPICS}), client)

    yield build
    for client in clients:
        await client.aclose()


def processor(state: Any) -> Processor:
    from detectors.ruleset import load_rules
    rules = load_rules()
    return Processor(state, lambda: rules)


async def test_a_proposal_before_its_job_post_is_decided_again_when_the_job_post_arrives(
        make: Any) -> None:
    h = make()
    early = proposal(1, T0 + timedelta(seconds=30), "j1")
    [first] = await h.load(early)
    assert assemble(early, first.raw)["job_known"] is False and not first.released
    [arrived] = await h.load(job_post(1, T0, "j1"))
    (released,) = arrived.released
    assert released.reason == "partner_arrived" and released.book == "job:j1"
    (again,) = await redecide(h.state, processor(h.state), [arrived])
    assert again.event.id == early.id
    assert "proposal.genai_restricted_job" in {f.detector_id for f in again.decision.findings}
    # Until the re-decision is written it stays held: a redelivered job post (its worker
    # killed) releases it again.
    assert not arrived.redelivered
    [redelivered] = await h.load(job_post(1, T0, "j1"))
    assert redelivered.redelivered
    assert [r.raw for r in redelivered.released] == [released.raw]
    await h.written([released.hold])
    [after] = await h.load(job_post(1, T0, "j1"))
    if h.redis is None:  # a file is read once: a written re-decision is released no more
        assert not after.released
    else:  # its worker may have been killed before publishing the flags: released again
        assert [r.raw for r in after.released] == [released.raw] and after.redelivered
    # A redelivered proposal is decided with its job post at once, and held no more.
    [late_copy] = await h.load(early)
    assert assemble(early, late_copy.raw)["job_known"] is True and h.counts().held == 0


async def test_an_earlier_signup_counted_late_decides_its_devices_later_signups_again(
        make: Any) -> None:
    h = make()
    later = signup(1, T0 + timedelta(minutes=5))
    [first] = await h.load(later)
    assert assemble(later, first.raw)["device_accounts_1h"] == 1
    [earlier] = await h.load(signup(2, T0))
    assert [r.reason for r in earlier.released] == ["counted_late"]
    (again,) = await redecide(h.state, processor(h.state), [earlier])
    assert again.event.id == later.id
    # A re-decision reads the count it missed, and releases nothing (no cascade); nor does
    # an on-time signup.
    [redo] = await h.load(later, redo=True)
    assert assemble(later, redo.raw)["device_accounts_1h"] == 2 and not redo.released
    assert not (await h.load(signup(3, T0 + timedelta(minutes=6))))[0].released


async def test_a_hold_whose_partner_never_comes_is_let_go_when_its_window_ends(make: Any) -> None:
    h = make(window=60.0)
    await h.load(proposal(1, T0, "missing"))
    await h.load(job_post(2, T0 + timedelta(seconds=60), "other"))
    assert h.counts().ended == 0  # the job posts' watermark is not past the window yet
    await h.load(job_post(3, T0 + timedelta(seconds=61), "other2"))
    assert h.counts().ended == 1
    # Its partner after the window releases nothing: it was decided without it.
    assert not (await h.load(job_post(4, T0, "missing")))[0].released


async def test_the_books_hold_at_most_max_held_the_oldest_let_go_first(make: Any) -> None:
    h = make(max_held=2)
    for n in range(3):
        await h.load(proposal(n, T0 + timedelta(seconds=n), f"unknown{n}"))
    assert h.counts().full == 1
    assert not (await h.load(job_post(9, T0, "unknown0")))[0].released
    assert (await h.load(job_post(8, T0, "unknown2")))[0].released


async def test_an_event_past_the_allowed_lateness_is_decided_but_counted_in_no_window(
        make: Any) -> None:
    h = make(allowed_lateness=60.0)
    await h.load(signup(1, T0 + timedelta(minutes=10)))
    in_time = signup(2, T0 + timedelta(minutes=9))  # late, within the allowed lateness
    too_late = signup(3, T0 + timedelta(minutes=5))
    [late] = await h.load(in_time)
    assert assemble(in_time, late.raw)["device_accounts_1h"] == 1  # counted in its own window
    assert [r.reason for r in late.released] == ["counted_late"]
    [decided] = await h.load(too_late)
    # Decided on its window as it is, which it is not added to (nor does it release anything).
    assert assemble(too_late, decided.raw)["device_accounts_1h"] == 0 and not decided.released
    next_one = signup(4, T0 + timedelta(minutes=11))
    [after] = await h.load(next_one)
    assert assemble(next_one, after.raw)["device_accounts_1h"] == 3  # 1, 2 and itself


def _fired(lines: list[str]) -> set[tuple[str, str]]:
    return {(record["event_id"], result["detector_id"])
            for record in final_records(replay_lines(lines))
            if not isinstance(record, InvalidLine)
            for result in record["results"] if result["fired"]}


_STREAM = [json.dumps(e) for e in simulated(900, seed=19, fraud_rate=0.4)]
_IN_ORDER = _fired(_STREAM)


def kafka_order(lines: list[str], rng: random.Random) -> list[str]:
    """An order Kafka may deliver ``lines`` in: each subject's events on each topic in their
    order (one key, one partition), everything else interleaved at random."""
    queues: dict[tuple[str, str], list[str]] = {}
    for line in lines:
        obj = json.loads(line)
        queues.setdefault((obj["type"], obj["subject_id"]), []).append(line)
    order = [key for key, queue in queues.items() for _ in queue]
    rng.shuffle(order)
    taken = {key: iter(queue) for key, queue in queues.items()}
    return [next(taken[key]) for key in order]


@settings(max_examples=12, deadline=None)
@given(st.randoms(use_true_random=False))
def test_replay_flags_the_same_in_any_kafka_order_within_the_allowed_lateness(
        rng: random.Random) -> None:
    """A stream spanning less than the allowed lateness, replayed in any order Kafka may
    deliver it in: every join waits, every shared count is decided again as it grows, so the
    same results fire."""
    assert {d for _, d in _IN_ORDER} >= {
        "signup.shared_device_ring", "proposal.genai_restricted_job", "job_post.new_client_large_budget"}
    assert _fired(kafka_order(_STREAM, rng)) == _IN_ORDER


@st.composite
def _arrivals(draw: Any) -> tuple[list[tuple[str, str]], float]:
    jobs = draw(st.integers(1, 4))
    proposals = draw(st.lists(st.integers(0, jobs - 1), min_size=1, max_size=8))
    items = [("job", f"j{j}") for j in range(jobs)] + [
        ("proposal", f"{i}:j{j}") for i, j in enumerate(proposals)]
    return draw(st.permutations(items)), draw(st.sampled_from([2.0, 5.0, 3600.0]))


@settings(max_examples=150, deadline=None)
@given(_arrivals())
def test_replays_memory_joins_keep_the_pure_join_books_semantics(case: Any) -> None:
    """:class:`MemoryJoins` (what replay runs) and :class:`detectors.ordering.JoinBook` (the
    pure statement) match the same proposals and let the same number go at window end."""
    stream, window = case
    book = JoinBook(window=window, max_held=100)
    joins = MemoryJoins(JoinSettings(window=window), records := {})
    counts = BatchJoins()
    pure: dict[str, bool] = {}
    ours: dict[str, bool] = {}
    for at, (kind, item) in enumerate(stream):
        when = T0 + timedelta(seconds=at)
        if kind == "job":
            for release in book.arrive(item, at=float(at)):
                pure[release.event_id] = release.matched
            records[f"job:{item}"] = {"client_id": "c1"}
            posted = job_post(at, when, item)
            for released in joins.apply(posted, [Arrive(f"job:{item}", f"job:{item}")], counts):
                assert released.hold is not None
                joins.release(released.hold)
                ours[decode_event_obj(json.loads(released.raw)).payload.proposal_id] = True
            joins.advance(posted, counts, ceiling=float("inf"))
        else:
            n, job = item.split(":")
            for release in book.hold(f"p{n}", partner=job, at=float(at)):
                pure[release.event_id] = release.matched
            submitted = proposal(int(n), when, job)
            joins.apply(submitted, [Hold(f"job:{job}", f"job:{job}", "job_post.created")], counts)
            if f"job:{job}" in records:
                ours[f"p{n}"] = True  # decided with its job post at once
    assert {k for k, matched in pure.items() if matched} == set(ours)
    assert sum(not matched for matched in pure.values()) == counts.ended
