"""The models' training log: every input a model learned, kept so it can be unlearned.

One Redis stream per model (:func:`~pipeline.models.keys.training_log_key`), appended by the
learner in the same MULTI that publishes the snapshot the input changed (so the log and the
model never disagree), and by ``vigil models bootstrap`` in its own. An entry holds the
subject's pseudonym (:func:`detectors.privacy.subject_pseudonym`, never the raw id), the input
``x`` the model learned from, the label (empty for an input an unsupervised part observed), the
decision id and when the event happened; the stream id says when it was learned.

The log is bounded: entries older than the retention (``VIGIL_TRAINING_LOG_RETENTION``) or
beyond ``VIGIL_TRAINING_LOG_MAXLEN`` per model leave it through the unlearner only
(:mod:`pipeline.models.unlearning`), which subtracts them from the count models as they go, so
a count model always equals its log and its exact unlearning is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from detectors.privacy import subject_pseudonym
from detectors.unlearning import Contribution
from pipeline.models.keys import training_log_key
from pipeline.settings import Settings

#: Entries read per XRANGE call.
PAGE = 5_000


@dataclass(frozen=True)
class TrainingLog:
    """Where and how long the learner logs what the models learned."""

    #: The key pseudonyms are made with (the models' hashing key: the same for every worker).
    pseudonym_key: bytes
    retention_seconds: float = 90 * 86400
    maxlen: int = 200_000

    @classmethod
    def from_settings(cls, settings: Settings) -> TrainingLog:
        return cls(settings.model_key(), settings.training_log_retention,
                   settings.training_log_maxlen)

    def contribution(self, subject_id: str, x: Any, label: bool | None, occurred_at: float,
                     decision_id: str | None = None) -> Contribution:
        """What one learned input becomes in the log (the subject pseudonymised here)."""
        return Contribution(subject_pseudonym(subject_id, self.pseudonym_key), dict(x), label,
                            occurred_at, decision_id=decision_id)

    @staticmethod
    def queue_append(pipe: Any, model: Any, contributions: Sequence[Contribution]) -> None:
        """Queue appending what ``model`` learned (inside the caller's MULTI)."""
        for c in contributions:
            pipe.xadd(training_log_key(model.id), {
                "subject": c.subject, "x": orjson.dumps(c.x),
                "y": "" if c.label is None else str(int(c.label)),
                "decision": c.decision_id or "", "occurred_at": repr(c.occurred_at),
                "v": model.version})

    @staticmethod
    async def read(client: Any, model_id: str, *, start: str = "-", upto: str = "+",
                   count: int | None = None) -> list[Contribution]:
        """The model's log in order (stream ids ``start`` to ``upto``, at most ``count``)."""
        out: list[Contribution] = []
        while count is None or len(out) < count:
            page = PAGE if count is None else min(PAGE, count - len(out))
            entries = await client.xrange(training_log_key(model_id), min=start, max=upto,
                                          count=page)
            out += [parse(entry_id, fields) for entry_id, fields in entries]
            if len(entries) < page:
                break
            start = "(" + _text(entries[-1][0])
        return out


def parse(entry_id: Any, fields: dict[Any, Any]) -> Contribution:
    """One stream entry as a :class:`Contribution`."""
    get = {_text(k): v for k, v in fields.items()}
    y = _text(get["y"])
    return Contribution(_text(get["subject"]), orjson.loads(get["x"]),
                        None if y == "" else y == "1", float(_text(get["occurred_at"])),
                        _text(entry_id), _text(get.get("decision", b"")) or None,
                        _text(get.get("v", b"")))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def learned_from(client: Any, model_ids: Sequence[str], pseudonym: str) -> dict[str, int]:
    """How many inputs of the subject ``pseudonym`` each model's log holds (what a user's data
    export says about the models: which learned from them, and how much). Reads whole logs."""
    out = {}
    for model_id in model_ids:
        n = sum(1 for c in await TrainingLog.read(client, model_id) if c.subject == pseudonym)
        if n:
            out[model_id] = n
    return out
