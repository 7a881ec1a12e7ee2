"""new_client_large_budget: a brand-new, unverified client posts a very large budget."""

from __future__ import annotations

from pipeline.sim.categories import CATEGORIES
from pipeline.sim.fraud_words import LARGE_DETAILS, LARGE_INTROS, LARGE_TITLES
from pipeline.sim.market import Job
from pipeline.sim.scenarios.base import Scenario, bystander, fresh, report
from pipeline.sim.world import World

NAME = "new_client_large_budget"
#: Budgets (the large-budget rule's thresholds follow from them).
LARGE_FIXED = (5_000, 45_000)
LARGE_HOURLY = (150, 350)


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    t = now + later(1, 20)
    client = fresh(world, t, "client", phone_verified=False, id_verified=False,
                   has_photo=rng.random() < 0.4)
    t += later(120, 1800)  # posts within half an hour of signing up
    cat = rng.choice((CATEGORIES[0], CATEGORIES[5], CATEGORIES[8]))  # web, mobile, data
    if rng.random() < 0.6:
        budget_type, amount = "fixed", float(round(rng.randint(*LARGE_FIXED), -2))
    else:
        budget_type, amount = "hourly", float(rng.randint(*LARGE_HOURLY))
    job = Job(job_id=world.ids.new("job"), client=client, title=rng.choice(LARGE_TITLES),
              category=cat, budget_type=budget_type, budget_amount=amount,
              skills=rng.sample(cat.skills, 3), restricted=False)
    description = " ".join([rng.choice(LARGE_INTROS), *rng.sample(LARGE_DETAILS, 2)])
    world.agenda.push(t, world.envelopes.job_post(t, job, description), NAME)
    if rng.random() < 0.15 and (reporter := bystander(world, client)):
        report(world, t + later(600, 7200), NAME, reporter, "job_post", job.job_id, "scam",
               "Huge budget from a brand-new profile, seems suspicious.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "Unverified client, 2-30 min after signup, budget fixed 5000-45000 or hourly 150-350."),
    emits=("job_post.created", "user_report.filed"),
    weight=1.0,
    inject=inject,
)
