"""The online models (river), one module each, discovered through :func:`default_models`.

Every model is AI (``is_ai = True``): :func:`detectors.core.decide` runs it only for subjects who
opted in under the current policy, and :func:`detectors.core.learn_from_label` teaches it only
from such subjects' events. See :mod:`detectors.models.base` for the contract.

>>> [m.id for m in default_models(b"doctest-key-0123456789")]
['message.scam_model', 'job_post.fraud_model', 'proposal.spam_model', 'signup.fake_account_model', 'message.scam_counts_model']
"""

from __future__ import annotations

from detectors.models.base import LogisticModel, ModelInput, OnlineModel
from detectors.models.counts import CountModel
from detectors.models.job_posts import FraudJobPostModel
from detectors.models.message_counts import ScamMessageCountsModel
from detectors.models.messages import ScamMessageModel
from detectors.models.proposals import ProposalSpamModel
from detectors.models.signups import FakeSignupModel

MODEL_CLASSES: tuple[type[OnlineModel], ...] = (
    ScamMessageModel, FraudJobPostModel, ProposalSpamModel, FakeSignupModel,
    ScamMessageCountsModel,  # shadow: exactly unlearnable (README, "Unlearning")
)


def default_models(hash_key: bytes) -> list[OnlineModel]:
    """A fresh instance of every model, hashing identifiers under ``hash_key`` (injected by the
    composition root from its secret store; at least 16 bytes)."""
    return [cls(hash_key) for cls in MODEL_CLASSES]


__all__ = [
    "MODEL_CLASSES", "CountModel", "FakeSignupModel", "FraudJobPostModel", "LogisticModel", "ModelInput",
    "OnlineModel", "ProposalSpamModel", "ScamMessageCountsModel", "ScamMessageModel", "default_models",
]
