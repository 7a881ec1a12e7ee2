"""genai_restricted_violation: AI-assisted proposals on a job that forbids generative AI."""

from __future__ import annotations

from pipeline.sim.scenarios.base import Scenario, report
from pipeline.sim.world import World

NAME = "genai_restricted_violation"


def feasible(world: World) -> bool:
    """A restricted job is open and there are freelancers to apply to it."""
    return bool(world.market.restricted_jobs and world.market.freelancers)


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    job = rng.choice(world.market.restricted_jobs)
    t = now
    last_pid = ""
    for _ in range(rng.randint(1, 3)):
        # Ordinary freelancers, writing an ordinary cover letter, with AI assistance on.
        freelancer = rng.choice(world.market.freelancers)
        if freelancer is job.client or any(f is freelancer for _, f in job.proposals):
            continue
        t += later(10, 600)
        last_pid, env = world.envelopes.proposal(
            t, job, freelancer, world.benign.cover_letter(job, freelancer),
            world.benign.bid(job), rng.choice((2, 4, 6)), True)
        world.agenda.push(t, env, NAME)
    if last_pid and rng.random() < 0.3:
        report(world, t + later(600, 7200), NAME, job.client, "proposal", last_pid,
               "ai_policy_violation", "This proposal says it was written with AI "
               "tools, but my job does not allow that.")


SCENARIO = Scenario(
    name=NAME,
    description="1-3 ai_assisted proposals on a genai_restricted job (by ordinary freelancers).",
    emits=("proposal.submitted", "user_report.filed"),
    weight=1.2,
    inject=inject,
    feasible=feasible,
)
