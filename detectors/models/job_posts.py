"""Fraudulent job posts: masked title and description, budget and the client's account.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> model = FraudJobPostModel(b"doctest-key-0123456789")
>>> event = decode_event_obj(example_event("job_post.created", {"title": "Easy money from home",
...     "description": "Pay a $50 starter fee by telegram @hr_desk, earn $900/week", "budget_amount": 9000.0}))
>>> x = model.featurize(event, {})
>>> "title:w:money" in x, "w:<handle>" in x, x["budget_fixed"]
(True, True, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from detectors.models.base import LogisticModel, ModelInput
from detectors.models.text import (
    account_features,
    flag,
    log_scale,
    text_features,
    text_shape,
)
from schemas.events import Envelope


class FraudJobPostModel(LogisticModel):
    id: ClassVar[str] = "job_post.fraud_model"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Online logistic regression on a job post's masked title and description (words and "
        "word pairs), its budget, skills and currency, and the client's account age and activity.")
    event_types: ClassVar[frozenset[str]] = frozenset({"job_post.created"})
    text_fields: ClassVar[frozenset[str] | None] = frozenset({"title", "description"})
    short_name: ClassVar[str] = "fraudulent job post"

    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        p = event.payload
        title: str = p.title  # type: ignore[attr-defined]
        description: str = getattr(p, "description", "") or ""
        x = text_features(title, "title:", bigrams=False)
        # Title and body each weigh as much as one normalised bag, whatever their lengths.
        x.update(text_features(description))
        x.update(text_shape(description))
        budget_type = getattr(p, "budget_type", "fixed")
        x["budget_fixed"] = 1.0 if budget_type == "fixed" else 0.0
        x["budget_amount"] = log_scale(getattr(p, "budget_amount", 0.0), 100_000)
        x[f"currency={getattr(p, 'currency', 'USD')}"] = 1.0
        skills = getattr(p, "skills", []) or []
        x["skills"] = min(len(skills), 20) / 20
        x["no_skills"] = 0.0 if skills else 1.0
        x["genai_restricted"] = flag(getattr(p, "genai_restricted", False))
        x["user_events_1h"] = log_scale(features.get("user_events_1h"), 200)
        x["user_events_24h"] = log_scale(features.get("user_events_24h"), 1000)
        x.update(account_features(features))
        return x
