"""Scam messages by naive Bayes on masked tokens: the count model beside the logistic one.

It runs in **shadow** mode: it scores every consented message and learns every label the
message model learns, but its hits make no flags and it spends no labelling budget, so the
product's enforced detections (and their evaluated F1) are the logistic model's alone. What it
adds is a model of the same event whose learned state is integer counts
(:mod:`detectors.models.counts`): an erased user's labels are subtracted from it exactly the
moment the learner hears of the erasure, where the logistic model has to be rebuilt.

Its input is presence of masked words and word pairs, count 1 each (the same tokens the
logistic model reads, without its L2 weights or any behaviour feature: naive Bayes on counts),
and a token for the text's length band.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> model = ScamMessageCountsModel(b"doctest-key-0123456789")
>>> event = decode_event_obj(example_event("message.sent",
...     {"text": "pay me on whatsapp +44 7700 900123", "has_active_contract": False}))
>>> x = model.featurize(event, {})
>>> x["w:<phone>"], x["b:whatsapp <phone>"], x["no_contract&<phone>"], model.mode
(1.0, 1.0, 1.0, 'shadow')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from detectors.models.base import ModelInput
from detectors.models.counts import CountModel
from detectors.models.text import tokens
from schemas.events import Envelope

_PLACEHOLDERS = frozenset({"<email>", "<url>", "<phone>", "<handle>", "<num>", "<ip>"})


class ScamMessageCountsModel(CountModel):
    id: ClassVar[str] = "message.scam_counts_model"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Naive Bayes on masked message words and word pairs (shadow): integer counts, so an "
        "erased user's labels are subtracted exactly.")
    event_types: ClassVar[frozenset[str]] = frozenset({"message.sent"})
    text_fields: ClassVar[frozenset[str] | None] = frozenset({"text"})
    short_name: ClassVar[str] = "scam message (counts)"

    def __init__(self, hash_key: bytes, *, mode: Any = "shadow", **kwargs: Any) -> None:
        super().__init__(hash_key, mode=mode, **kwargs)

    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        p = event.payload
        toks = tokens(p.text)  # type: ignore[attr-defined]
        # Every input has its length band (tokens, powers of two), so even an empty text counts.
        x: dict[str, float] = {f"length:{min(len(toks).bit_length(), 9)}": 1.0}
        x.update(dict.fromkeys((f"w:{t}" for t in toks), 1.0))
        x.update(dict.fromkeys((f"b:{a} {b}" for a, b in zip(toks, toks[1:])), 1.0))
        if not getattr(p, "has_active_contract", False):
            # Contact details before a contract: the off-platform pattern, as a token of its own.
            x.update(dict.fromkeys((f"no_contract&{t}" for t in toks if t in _PLACEHOLDERS), 1.0))
        return x
