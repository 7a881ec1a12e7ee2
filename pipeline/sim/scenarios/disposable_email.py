"""disposable_email: an account signed up with a throwaway mailbox."""

from __future__ import annotations

from pipeline.sim.fraud_words import DISPOSABLE_DOMAINS
from pipeline.sim.scenarios.base import Scenario, bystander, onboard, report
from pipeline.sim.world import World

NAME = "disposable_email"


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    t = now + later(1, 20)
    kind = "client" if rng.random() < 0.5 else "freelancer"
    user, env = world.signups.new_user(
        t, kind, email_domain=rng.choice(DISPOSABLE_DOMAINS),
        duration_ms=rng.randint(2_500, 30_000), has_photo=rng.random() < 0.2,
        phone_verified=False, id_verified=False,
    )
    onboard(world, t, user)
    world.agenda.push(t, env, NAME)
    if rng.random() < 0.1 and (reporter := bystander(world)):
        report(world, t + later(600, 7200), NAME, reporter, "user", user.user_id,
               "fake_account", "Throwaway-looking account.")


SCENARIO = Scenario(
    name=NAME,
    description="One signup at a disposable domain (fraud_words.DISPOSABLE_DOMAINS), unverified.",
    emits=("user.signed_up", "user_report.filed"),
    weight=1.2,
    inject=inject,
)
