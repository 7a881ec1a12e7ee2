"""scam_proposal: a few proposals that lure the client to a phishing page or an advance fee.

One fresh freelancer answers 1-3 jobs, minutes to an hour apart, with ordinary Connects and a
letter naming the job (``fraud_words.SCAM_PROPOSAL_LETTERS``): no burst, no copy sent to four
jobs, no Connects burn, so no proposal rule fires. The letter is the scam: a "mockup" behind a
login page, a refundable booking charge, an outside escrow, an investment platform.
"""

from __future__ import annotations

from pipeline.sim.fraud_words import (
    SCAM_DOMAINS,
    SCAM_PROPOSAL_GREETINGS,
    SCAM_PROPOSAL_LETTERS,
)
from pipeline.sim.scenarios.base import Scenario, fresh, report
from pipeline.sim.world import World

NAME = "scam_proposal"
#: Proposals per instance: below proposal.burst's five in ten minutes and the duplicate rule's
#: four jobs.
PROPOSALS = (1, 3)


def feasible(world: World) -> bool:
    """Enough open jobs."""
    return len(world.market.jobs) >= PROPOSALS[1]


def inject(world: World, now: float) -> None:
    rng, later, market = world.rng, world.clock.later, world.market
    t = now + later(1, 20)
    scammer = fresh(world, t, "freelancer", has_photo=rng.random() < 0.6)
    t += later(300, 3600)
    letter, domain = rng.choice(SCAM_PROPOSAL_LETTERS), rng.choice(SCAM_DOMAINS)
    for job in rng.sample(market.jobs, rng.randint(*PROPOSALS)):
        t += later(180, 3600)
        text = (f"{rng.choice(SCAM_PROPOSAL_GREETINGS)}\n\n"
                f"{letter.format(title=job.title, domain=domain)}\n\n{scammer.first}")
        bid = round(job.budget_amount * rng.uniform(0.3, 0.7), 2)
        pid, env = world.envelopes.proposal(t, job, scammer, text, bid, rng.choice((2, 4, 6)),
                                            False)
        world.agenda.push(t, env, NAME)
        if rng.random() < 0.2:
            report(world, t + later(300, 7200), NAME, job.client, "proposal", pid, "scam",
                   "The proposal asks me to log in or pay on another site.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "A fresh freelancer sends 1-3 proposals, 3-60 min apart, 2-6 Connects, bids at 30-70% "
        "of the budget, each letter naming the job and leading to a phishing page, a booking "
        "charge, an outside escrow or an investment platform; 20% are reported."),
    emits=("proposal.submitted", "user_report.filed"),
    weight=1.0,
    inject=inject,
    feasible=feasible,
)
