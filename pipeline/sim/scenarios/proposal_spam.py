"""proposal_spam: one account sends near-identical proposals to many jobs in minutes."""

from __future__ import annotations

from pipeline.sim.fraud_words import SPAM_GREETINGS, SPAM_LETTERS
from pipeline.sim.scenarios.base import Scenario, fresh, report
from pipeline.sim.world import World

NAME = "proposal_spam"
#: Proposals per burst (the burst rules' thresholds follow from it).
SPAM_BURST = (8, 20)


def feasible(world: World) -> bool:
    """Enough open jobs for the smallest burst."""
    return len(world.market.jobs) >= SPAM_BURST[0]


def inject(world: World, now: float) -> None:
    rng, later, market = world.rng, world.clock.later, world.market
    t = now + later(1, 20)
    spammer = rng.choice(market.freelancers) if market.freelancers else None
    if rng.random() < 0.7 or spammer is None or spammer.user_id in market.spammers:
        spammer = fresh(world, t, "freelancer", has_photo=rng.random() < 0.5)
        t += later(120, 3600)
    # One burst per account keeps bursts separable by freelancer in the ground truth.
    market.spammers.add(spammer.user_id)
    size = min(rng.randint(*SPAM_BURST), len(market.jobs))
    letter = rng.choice(SPAM_LETTERS)
    sign = f"\n\n{spammer.first}"
    connects = rng.randint(12, 20)
    victims = []
    for i, job in enumerate(rng.sample(market.jobs, size)):
        t += later(5, 30) if i else 0.0  # 8-20 proposals inside ~10 minutes
        text = f"{rng.choice(SPAM_GREETINGS)}\n\n{letter}{sign}"
        bid = round(job.budget_amount * rng.uniform(0.5, 0.8), 2)
        pid, env = world.envelopes.proposal(t, job, spammer, text, bid, connects, False)
        world.agenda.push(t, env, NAME)
        victims.append((pid, job.client))
    if rng.random() < 0.2:
        pid, client = rng.choice(victims)
        if client is not spammer:
            report(world, t + later(300, 3600), NAME, client, "proposal", pid, "spam",
                   "Generic copy-paste proposal, clearly not read the post.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "8-20 near-identical proposals to distinct jobs, 5-30 s apart, connects_spent 12-20."),
    emits=("proposal.submitted", "user_report.filed"),
    weight=0.7,
    inject=inject,
    feasible=feasible,
)
