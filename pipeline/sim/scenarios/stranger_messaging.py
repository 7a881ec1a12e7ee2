"""stranger_messaging: a fresh account cold-messages many users it never worked with."""

from __future__ import annotations

from pipeline.sim.fraud_words import STRANGER_TEXTS
from pipeline.sim.market import User
from pipeline.sim.scenarios.base import Scenario, fresh, report
from pipeline.sim.world import World

NAME = "stranger_messaging"
#: Recipients per instance (the stranger rules' thresholds follow from it).
STRANGER_RECIPIENTS = (10, 25)


def feasible(world: World) -> bool:
    """Enough users that distinct recipients are found quickly."""
    return len(world.market.users) >= STRANGER_RECIPIENTS[1] * 2


def _recipients(world: World, sender: User) -> list[User]:
    recipients: list[User] = []
    seen = {sender.user_id}
    wanted = world.rng.randint(*STRANGER_RECIPIENTS)
    while len(recipients) < wanted:
        user = world.rng.choice(world.market.users)
        if user.user_id not in seen:
            seen.add(user.user_id)
            recipients.append(user)
    return recipients


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    t = now + later(1, 20)
    sender = fresh(world, t, rng.choice(("client", "freelancer")), has_photo=False,
                   phone_verified=False, id_verified=rng.random() < 0.1)
    t += later(60, 600)
    template = rng.choice(STRANGER_TEXTS)
    recipients = _recipients(world, sender)
    first_mid: dict[str, str] = {}
    for i, recipient in enumerate(recipients):
        t += later(20, 140) if i else 0.0  # 10-25 strangers inside an hour
        mid, env = world.envelopes.message(t, world.ids.new("thr"), sender, recipient,
                                           template.format(name=recipient.first), False)
        first_mid[recipient.user_id] = mid
        world.agenda.push(t, env, NAME)
    for recipient in rng.sample(recipients, rng.choice((0, 0, 1, 2))):
        report(world, t + later(120, 3600), NAME, recipient, "message",
               first_mid[recipient.user_id], rng.choice(("spam", "harassment")),
               "Unsolicited message from someone I never worked with.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "A fresh account messages 10-25 distinct users in new threads, 20-140 s apart."),
    emits=("message.sent", "user_report.filed"),
    weight=0.6,
    inject=inject,
    feasible=feasible,
)
