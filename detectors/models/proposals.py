"""Proposal spam: the masked cover letter and the freelancer's proposal behaviour.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> model = ProposalSpamModel(b"doctest-key-0123456789")
>>> event = decode_event_obj(example_event("proposal.submitted", {"cover_letter": "Dear Sir, I am expert."}))
>>> x = model.featurize(event, {"freelancer_proposals_10m": 12, "similar_cover_letter_jobs_24h": 9})
>>> x["freelancer_proposals_10m"] > 0.5, x["similar_cover_letter_jobs_24h"] > 0.5, "w:expert" in x
(True, True, True)
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


class ProposalSpamModel(LogisticModel):
    id: ClassVar[str] = "proposal.spam_model"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Online logistic regression on a proposal's masked cover letter (words and word pairs) "
        "and the freelancer's behaviour: proposals in 10 minutes, near-identical letters sent to "
        "other jobs, Connects spent, bid, generative-AI use against the client's restriction.")
    event_types: ClassVar[frozenset[str]] = frozenset({"proposal.submitted"})
    text_fields: ClassVar[frozenset[str] | None] = frozenset({"cover_letter"})
    short_name: ClassVar[str] = "proposal spam"

    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        p = event.payload
        letter: str = p.cover_letter  # type: ignore[attr-defined]
        x = text_features(letter)
        x.update(text_shape(letter))
        x["freelancer_proposals_10m"] = log_scale(features.get("freelancer_proposals_10m"), 30)
        x["similar_cover_letter_jobs_24h"] = log_scale(features.get("similar_cover_letter_jobs_24h"), 30)
        x["freelancer_connects_24h"] = log_scale(features.get("freelancer_connects_24h"), 500)
        x["bid_amount"] = log_scale(getattr(p, "bid_amount", 0.0), 100_000)
        x["connects_spent"] = log_scale(getattr(p, "connects_spent", 0), 100)
        ai_assisted = flag(getattr(p, "ai_assisted", False))
        restricted = flag(features.get("job_genai_restricted", False))
        x["ai_assisted"] = ai_assisted
        x["ai_assisted&job_genai_restricted"] = ai_assisted * restricted
        x["job_unknown"] = 0.0 if features.get("job_known", True) else 1.0
        # Only whether the freelancer answers their own job: the ids themselves never enter x.
        client = features.get("job_client_id") or ""
        x["own_job"] = 1.0 if client and client == event.subject_id else 0.0
        x["user_events_1h"] = log_scale(features.get("user_events_1h"), 200)
        x.update(account_features(features))
        return x
