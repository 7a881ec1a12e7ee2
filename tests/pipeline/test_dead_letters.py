"""Dead letters fit whatever the input, and a send that fails never crashes the worker or skips
the record: transient errors are retried with back-off, a refused letter becomes a minimal one.
(The embedded broker's drill is tests/integration/test_hostile_input.py.)"""

from __future__ import annotations

import base64
import hashlib
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from hypothesis import given
from hypothesis import strategies as st

from pipeline import metrics
from pipeline.worker.dead_letters import DeadLetters, dead_letter
from pipeline.worker.stats import WorkerStats
from schemas.outputs import KEPT_VALUE_BYTES, MAX_DEAD_LETTER_BYTES, DeadLetter


def record(value: bytes, key: bytes | None = b"u1") -> Any:
    return SimpleNamespace(topic="marketplace.messages", partition=2, offset=40, key=key,
                           value=value)


class Topic:
    """Takes a letter once ``failures`` (raised in turn) are used up; refuses letters above
    ``limit`` bytes as the producer does."""

    def __init__(self, failures: list[Exception] = (), limit: int = 1 << 20) -> None:  # type: ignore[assignment]
        self.failures = list(failures)
        self.limit = limit
        self.sent: list[tuple[bytes | None, bytes]] = []

    async def send(self, key: bytes | None, value: bytes) -> None:
        if self.failures:
            raise self.failures.pop(0)
        if len(value) + len(key or b"") > self.limit:
            raise ProducerSendError("Error while sending") from MessageSizeTooLargeError()
        self.sent.append((key, value))


def failures(outcome: str) -> float:
    return metrics.DEAD_LETTER_SEND_FAILURES.labels(outcome)._value.get()


@given(value=st.binary(max_size=200_000), key=st.none() | st.binary(max_size=5_000),
       reason=st.text(max_size=5_000))
def test_a_letter_always_fits_and_says_what_it_cut(value: bytes, key: bytes | None,
                                                    reason: str) -> None:
    letter = dead_letter(kind="oversized", reason=reason, topic="t", partition=0, offset=1,
                         key=key, value=value)
    encoded = letter.model_dump_json().encode()
    assert len(encoded) + min(len(key or b""), 1024) <= MAX_DEAD_LETTER_BYTES
    kept = base64.b64decode(letter.original_b64)
    assert value.startswith(kept) and letter.truncated == (len(kept) < len(value))
    assert letter.original_size == len(value)
    assert letter.original_sha256 == hashlib.sha256(value).hexdigest()
    assert letter.truncated == (len(value) > KEPT_VALUE_BYTES)
    if key is not None:
        assert letter.key_size == len(key) and letter.key_truncated == (len(key) > 1024)
    assert DeadLetter.model_validate_json(encoded) == letter


async def test_transient_send_errors_are_retried_until_the_letter_is_taken() -> None:
    topic = Topic([ProducerSendError("x"), KafkaTimeoutError(), KafkaConnectionError()])
    topic.failures[0].__cause__ = KafkaConnectionError()
    before = failures("retried")
    stats = WorkerStats()
    await DeadLetters(topic, stats, first_delay=0.001).send(record(b"{"), "bad_json", "r")
    assert len(topic.sent) == 1 and stats.dead_letters == 1
    assert failures("retried") - before == 3
    assert DeadLetter.model_validate_json(topic.sent[0][1]).original_b64 == "ew=="


async def test_a_refused_letter_is_replaced_by_a_minimal_one() -> None:
    # A producer whose request limit is smaller than the letter: the full one is refused.
    topic = Topic(limit=2_000)
    before = failures("minimal")
    await DeadLetters(topic, WorkerStats()).send(record(b"x" * 10_000), "oversized", "big")
    assert failures("minimal") - before == 1
    [(key, value)] = topic.sent
    letter = DeadLetter.model_validate_json(value)
    assert (letter.truncated, letter.original_b64, letter.original_size) == (True, "", 10_000)
    assert letter.original_sha256 == hashlib.sha256(b"x" * 10_000).hexdigest()
    assert (letter.topic, letter.partition, letter.offset) == ("marketplace.messages", 2, 40)


async def test_a_bug_in_sending_is_not_mistaken_for_a_refusal_forever() -> None:
    # A non-Kafka error is about the letter: minimal next; that minimal letter is taken.
    topic = Topic([TypeError("not bytes")])
    await DeadLetters(topic, WorkerStats()).send(record(b"{}"), "bad_json", "r")
    assert DeadLetter.model_validate_json(topic.sent[0][1]).original_b64 == ""


def test_every_outcome_series_exists_before_its_first_failure() -> None:
    assert {"retried", "minimal", "undelivered"} <= {
        sample.labels["outcome"] for family in metrics.DEAD_LETTER_SEND_FAILURES.collect()
        for sample in family.samples}


def test_the_letters_field_descriptions_state_the_limits_in_force() -> None:
    from schemas.outputs import KEPT_KEY_BYTES, MAX_REASON_CHARS

    described = {name: field["description"]
                 for name, field in DeadLetter.model_json_schema()["properties"].items()}
    assert f"{KEPT_VALUE_BYTES:,} bytes" in described["original_b64"]
    assert f"{KEPT_KEY_BYTES:,} bytes" in described["key"]
    assert f"{MAX_REASON_CHARS:,} characters" in described["reason"]
    assert all(described.values())
