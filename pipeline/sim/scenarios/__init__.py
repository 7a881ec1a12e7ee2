"""The fraud scenarios, one module each, registered here in one place.

Each module exposes one :class:`~pipeline.sim.scenarios.base.Scenario` as ``SCENARIO``: its
name (the label rules list under ``labels``), a description, the event types it labels, its
weight, and how to inject it. To add a scenario, write one module beside these and add its
``SCENARIO`` to :data:`REGISTRY`.

The registry is an explicit list, not discovered from files, because its order is part of the
seeded output: a starting scenario is drawn from the feasible ones in this order. Appending
keeps the code of the others untouched, but any new scenario changes every seeded stream
(the draw has one more candidate), so the pinned hashes in ``tests/test_simulate_scenarios.py``
are updated in the same commit.

>>> SCENARIOS[:3]
('fake_account_ring', 'disposable_email', 'scam_job_fee')
>>> BY_NAME["proposal_spam"].emits
('proposal.submitted', 'user_report.filed')
"""

from __future__ import annotations

from pipeline.sim.scenarios import (
    disposable_email,
    fake_account_ring,
    fake_profile,
    genai_restricted_violation,
    new_client_large_budget,
    off_platform_payment,
    proposal_spam,
    scam_job_fee,
    scam_message,
    scam_proposal,
    stranger_messaging,
)
from pipeline.sim.scenarios.base import Scenario

__all__ = ["BY_NAME", "REGISTRY", "SCENARIOS", "Scenario"]

#: Every injected fraud scenario, in draw order. Timings are those of the default 2 s mean gap.
REGISTRY: tuple[Scenario, ...] = (
    fake_account_ring.SCENARIO,
    disposable_email.SCENARIO,
    scam_job_fee.SCENARIO,
    off_platform_payment.SCENARIO,
    proposal_spam.SCENARIO,
    genai_restricted_violation.SCENARIO,
    new_client_large_budget.SCENARIO,
    stranger_messaging.SCENARIO,
    # Fraud the rules miss, for the models to learn (labels come from reports and reviews).
    scam_message.SCENARIO,
    scam_proposal.SCENARIO,
    fake_profile.SCENARIO,
)

#: The scenario names, i.e. the labels on simulated events.
SCENARIOS: tuple[str, ...] = tuple(scenario.name for scenario in REGISTRY)

BY_NAME: dict[str, Scenario] = {scenario.name: scenario for scenario in REGISTRY}
