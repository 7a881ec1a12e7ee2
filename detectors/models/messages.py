"""Scam and off-platform-payment messages: masked text and the sender's messaging behaviour.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> model = ScamMessageModel(b"doctest-key-0123456789")
>>> event = decode_event_obj(example_event("message.sent",
...     {"text": "pay me on whatsapp +44 7700 900123", "has_active_contract": False}))
>>> x = model.featurize(event, {"sender_strangers_1h": 4})
>>> x["no_contract&<phone>"], "w:whatsapp" in x, x["sender_strangers_1h"] > 0
(1.0, True, True)
>>> model.predict(x)[0]   # no label yet: neutral, and it never fires
0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from detectors.models.base import LogisticModel, ModelInput
from detectors.models.text import account_features, log_scale, text_features, text_shape
from schemas.events import Envelope

_PLACEHOLDER_TOKENS = ("w:<email>", "w:<url>", "w:<phone>", "w:<handle>", "w:<num>", "w:<ip>")


class ScamMessageModel(LogisticModel):
    id: ClassVar[str] = "message.scam_model"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Online logistic regression on masked message text (words and word pairs), contact "
        "details shared before a contract, and the sender's recent messaging to strangers.")
    event_types: ClassVar[frozenset[str]] = frozenset({"message.sent"})
    text_fields: ClassVar[frozenset[str] | None] = frozenset({"text"})
    short_name: ClassVar[str] = "scam message"

    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        p = event.payload
        text: str = p.text  # type: ignore[attr-defined]
        contract = bool(getattr(p, "has_active_contract", False))
        x = text_features(text)
        x.update(text_shape(text))
        x["no_active_contract"] = 0.0 if contract else 1.0
        if not contract:
            # Contact details before a contract is the off-platform pattern itself.
            for token in _PLACEHOLDER_TOKENS:
                if token in x:
                    x["no_contract&" + token[2:]] = 1.0
        x["attachments"] = min(int(getattr(p, "attachment_count", 0) or 0), 10) / 10
        x["sender_recipients_1h"] = log_scale(features.get("sender_recipients_1h"), 50)
        x["sender_strangers_1h"] = log_scale(features.get("sender_strangers_1h"), 50)
        x["user_events_1h"] = log_scale(features.get("user_events_1h"), 200)
        x.update(account_features(features))
        return x
