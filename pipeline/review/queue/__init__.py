"""The review queue in Redis: flags group into one open case per entity, analysts claim and decide.

Every state change is one Lua script (or one MULTI), so it is atomic, and idempotent. The queue
is split by who calls it, and :class:`ReviewQueue` puts the parts together:

* :mod:`.intake`: the worker adds flags (``add_flags``: a flag seen before changes nothing; a
  repeat or snoozed hit is recorded as suppressed);
* :mod:`.labelling`: the worker adds the labelling sampler's events (``add_samples``): cases of
  their own kind and index, never the detection queue, no SLA;
* :mod:`.actions`: analysts claim (with a lease), release, reassign, decide (which writes the
  ``review.decided`` event to the outbox in the same step), add notes and snooze detectors;
* :mod:`.views`: cases, their details and the audit log as the console and the API show them;
* :mod:`.stats`: depth, SLA breaches, per-minute series and the Prometheus gauges;
* :mod:`.estimates`: prevalence and recall from the random sample's decisions, precision per
  detector from decisions;
* :mod:`.outbox`: the decision events waiting for the relay;
* :mod:`.policy` holds the rules without Redis (statuses, priority, SLA state, decision
  checks; the settings they read are :class:`pipeline.settings.QueueSettings`), :mod:`.scripts` the Lua scripts (``lua/*.lua``), :mod:`.keys` the
  key layout, :mod:`.errors` what actions fail with.
"""

from __future__ import annotations

from detectors.results import SEVERITY_RANK
from pipeline.review.queue.actions import Actions, ClaimResult, DecisionResult
from pipeline.review.queue.base import QueueBase
from pipeline.review.queue.errors import (
    CaseClosed,
    CaseNotFound,
    ClaimConflict,
    DecisionConflict,
    InvalidDecision,
    LeadsOnly,
    NotClaimed,
    ReviewError,
)
from pipeline.review.queue.estimates import Estimates
from pipeline.review.queue.intake import AddResult, Intake
from pipeline.review.queue.keys import K
from pipeline.review.queue.labelling import NOT_A_DETECTION, Labelling, SampleResult
from pipeline.review.queue.outbox import Outbox
from pipeline.review.queue.policy import (
    DEFAULT_POLICY_REASONS,
    MAX_EVENT_IDS,
    OUTCOMES,
    REPORT_DETECTOR,
    REPORT_EVENT,
    SEVERITY_NAME,
    SLA_STATES,
    STATUSES,
    Outcome,
    is_report,
    iso,
    minute_of,
)
from pipeline.review.queue.retention import Retention
from pipeline.review.queue.search import Search
from pipeline.review.queue.stats import Stats
from pipeline.review.queue.views import KINDS, CaseViews

__all__ = [
    "DEFAULT_POLICY_REASONS",
    "KINDS",
    "MAX_EVENT_IDS",
    "NOT_A_DETECTION",
    "OUTCOMES",
    "REPORT_DETECTOR",
    "REPORT_EVENT",
    "SEVERITY_NAME",
    "SEVERITY_RANK",
    "SLA_STATES",
    "Search",
    "STATUSES",
    "Actions",
    "AddResult",
    "CaseClosed",
    "CaseNotFound",
    "CaseViews",
    "ClaimConflict",
    "ClaimResult",
    "DecisionConflict",
    "DecisionResult",
    "Estimates",
    "Intake",
    "InvalidDecision",
    "K",
    "Labelling",
    "LeadsOnly",
    "NotClaimed",
    "Outbox",
    "Outcome",
    "QueueBase",
    "ReviewError",
    "Retention",
    "ReviewQueue",
    "SampleResult",
    "Stats",
    "is_report",
    "iso",
    "minute_of",
]


class ReviewQueue(Intake, Labelling, Actions, Search, Stats, Outbox, Retention):
    """Cases in Redis, all parts: ``ReviewQueue(redis, config, clock)``. ``clock`` returns epoch
    seconds (tests pass a fake one). A caller that only adds flags can use :class:`Intake`."""
