"""scam_job_fee: a fake job that asks applicants to pay before they start."""

from __future__ import annotations

from pipeline.sim.categories import CATEGORIES
from pipeline.sim.fraud_words import (
    SCAM_FEE_ASKS,
    SCAM_INTROS,
    SCAM_TITLES,
    SCAM_URGENCY,
)
from pipeline.sim.market import Job
from pipeline.sim.scenarios.base import Scenario, bystander, fresh, report
from pipeline.sim.world import World

NAME = "scam_job_fee"
_SKILLS = ("Data Entry", "Customer Service", "Virtual Assistant", "Typing", "Microsoft Excel")


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    t = now + later(1, 20)
    client = fresh(world, t, "client", phone_verified=rng.random() < 0.2, id_verified=False,
                   has_photo=rng.random() < 0.3, bio="")
    t += later(60, 3600)
    rate = rng.randint(35, 60)
    fee = rng.choice((49, 75, 99, 150, 199, 250, 300))
    parts = [rng.choice(SCAM_INTROS).format(weekly=rate * 40),
             rng.choice(SCAM_FEE_ASKS).format(fee=fee), rng.choice(SCAM_URGENCY)]
    hourly = rng.random() < 0.7
    job = Job(
        job_id=world.ids.new("job"), client=client,
        title=rng.choice(SCAM_TITLES).format(rate=rate), category=CATEGORIES[3],  # data entry
        budget_type="hourly" if hourly else "fixed",
        budget_amount=float(rate if hourly else rng.randint(8, 30) * 100),
        skills=rng.sample(_SKILLS, 2),
        restricted=False,
    )
    world.agenda.push(t, world.envelopes.job_post(t, job, " ".join(p for p in parts if p)),
                      NAME)
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        if reporter := bystander(world, client):
            report(world, t + later(300, 7200), NAME, reporter, "job_post", job.job_id, "scam",
                   "They want me to pay before starting work.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "A job post asking for a training/registration fee, starter kit, check deposit, gift "
        "cards or crypto, 1-60 min after its client signed up (80% unverified)."),
    emits=("job_post.created", "user_report.filed"),
    weight=1.2,
    inject=inject,
)
