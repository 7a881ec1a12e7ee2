"""Where the models' state lives in Redis: one spelling of every key scorers and the learner share.

>>> version_key("message.scam_model"), snapshot_key("message.scam_model", 3)
('vigil:model:message.scam_model:version', 'vigil:model:message.scam_model:snapshot:3')
>>> input_key("e1", "message.scam_model")
'vigil:model:input:e1:message.scam_model'
"""

from __future__ import annotations

PREFIX = "vigil:model:"
#: Decision ids the learner has taught (a set): a redelivered decision is skipped.
APPLIED = PREFIX + "applied_decisions"


def unlabelled_key(model_id: str) -> str:
    """The stream of unlabelled inputs scorers hand the learner."""
    return f"{PREFIX}{model_id}:unlabelled"


def observed_key(model_id: str) -> str:
    """Event ids the model observed (sorted set by time): a redelivered event is observed once."""
    return f"{PREFIX}{model_id}:observed"


def cursor_key(model_id: str) -> str:
    """The id of the last stream entry the learner has taken into a published snapshot."""
    return f"{PREFIX}{model_id}:unlabelled:cursor"


def input_key(event_id: str, model_id: str) -> str:
    """What ``model_id`` saw of ``event_id`` when it scored it (for a label, however late)."""
    return f"{PREFIX}input:{event_id}:{model_id}"


def content_key(target_type: str, target_id: str) -> str:
    """The event that carried a message, proposal or job post (a report names the content's id).

    >>> content_key("message", "m9")
    'vigil:model:content:message:m9'
    """
    return f"{PREFIX}content:{target_type}:{target_id}"


def version_key(model_id: str) -> str:
    return f"{PREFIX}{model_id}:version"


def snapshot_key(model_id: str, version: int) -> str:
    return f"{PREFIX}{model_id}:snapshot:{version}"


def training_log_key(model_id: str) -> str:
    """Every input ``model_id`` learned, with its subject's pseudonym (a stream, oldest first):
    what unlearning subtracts from or rebuilds without.

    >>> training_log_key("message.scam_model")
    'vigil:model:message.scam_model:training_log'
    """
    return f"{PREFIX}{model_id}:training_log"


#: Per model, the latest request (erasure or withdrawal) its published state excludes (a hash:
#: model id -> JSON ``{"excluded_up_to", "at", "method", "forgotten", "version"}``).
UNLEARNING = PREFIX + "unlearning"
#: Erased users (a sorted set: :func:`detectors.privacy.subject_pseudonym` -> erased at, epoch
#: seconds), written by erasure; the raw id is never stored.
ERASED = "vigil:privacy:erased"
#: Users who withdrew consent and asked that past learning be undone (same shape as
#: :data:`ERASED`), written by the worker from ``consent.changed`` with ``undo_learning``.
LEARNING_WITHDRAWN = "vigil:privacy:learning_withdrawn"
