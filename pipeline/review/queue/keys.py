"""Where the queue keeps its data in Redis: every key starts with :data:`K`.

The Lua scripts in ``lua/`` spell the same names out (``'vigil:case:' .. case_id``).

Keys: ``flag:<id>`` (every flag, JSON), ``flag_case`` and ``flag_suppressed`` (hashes by flag
id), ``event:<event_id>`` (the flagged event's envelope), ``case:<id>`` (hash) and
``case:<id>:flags`` (list), ``case_suppressed:``, ``case_dedup:``, ``case_notes:``, ``case_content:<id>`` (the reported
content joined to the case, a list) and ``case_content_seen:<id>``,
``case_decisions:<id>``, ``entity:<entity>:open_case``, ``entity_cases:<entity>``,
``queue`` / ``escalated`` (priority), ``closed`` (by decision time), ``sla`` and ``sla:pending``
(due times), ``snooze:<entity>``, ``decision:<id>``, ``entity_decisions:<entity>``,
``subject_decisions:<user>``, ``audit`` (stream), ``outbox:pending`` / ``outbox:published``,
``stats:*`` and per-minute series ``ts:*``. History (:mod:`.history`): ``history:<user>``,
``content:<type>:<id>``; search (:mod:`.search`): ``search``, ``search:at``. Labelling (:mod:`.labelling`): ``sample:<event_id>``,
``case:<id>:samples``, ``labelling`` / ``labelling:escalated`` / ``labelling:closed``,
``sample_budget:<model>:<day>``; the estimates' sums ``est:<type>``, ``est_caught:<type>``,
``est:types``, ``stats:detector_decisions``. Actions (:mod:`.enforcement`): ``action:<id>``
(record, state, acknowledgements), ``case_actions:<case>``, ``outbox:actions:pending`` /
``outbox:actions:published``, ``actions:failed``; appeals (:mod:`.appeals`): ``appeals`` /
``appeals:escalated`` / ``appeals:closed``, ``appeal_of:<decision>``.
"""

from __future__ import annotations

K = "vigil:"
#: The sorted set (by priority or decision time) that holds the cases of each status.
STATUS_SET = {"open": K + "queue", "escalated": K + "escalated", "closed": K + "closed"}
#: The same for appeal cases (:mod:`.appeals`).
APPEAL_SETS = {"open": K + "appeals", "escalated": K + "appeals:escalated",
               "closed": K + "appeals:closed"}


def sample_key(event_id: str) -> str:
    """What the labelling sampler recorded about an event (a hash: the sample, its case, its
    kind: ``labelling`` or ``flag``, and whether a decision counted it).

    >>> sample_key("e1")
    'vigil:sample:e1'
    """
    return f"{K}sample:{event_id}"


def case_key(case_id: str) -> str:
    """The hash that holds a case.

    >>> case_key("case_1")
    'vigil:case:case_1'
    """
    return f"{K}case:{case_id}"
