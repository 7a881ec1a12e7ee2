"""scam_message: a fake recruiter, a phishing "client" or a crypto pitch, in words the rules miss.

One fresh account writes to 1-4 users it never worked with (fewer than the stranger rule's
six) and follows up 0-2 times. Its texts name no payment app, chat app, email address or phone
number and say nothing of leaving the platform (``fraud_words.SCAM_MESSAGE_*``), so
``message.off_platform_payment`` does not fire: what gives them away is what they ask for, a
job nobody applied for, a link to "release" a payment, guaranteed returns. A model can learn
that from labels (reports, sampled reviews); the rules cannot.
"""

from __future__ import annotations

from pipeline.sim.fraud_words import (
    SCAM_DOMAINS,
    SCAM_MESSAGE_FOLLOWUPS,
    SCAM_MESSAGE_OPENERS,
    SCAM_VICTIM_REPLIES,
)
from pipeline.sim.market import User
from pipeline.sim.scenarios.base import Scenario, fresh, report
from pipeline.sim.world import World

NAME = "scam_message"
#: Victims per instance: below message.new_account_many_strangers' six strangers an hour.
VICTIMS = (1, 4)
PITCHES = tuple(SCAM_MESSAGE_OPENERS)


def feasible(world: World) -> bool:
    """Enough users to write to."""
    return len(world.market.users) >= 2 * VICTIMS[1]


def _victims(world: World, pitch: str) -> list[User]:
    # Fake jobs go to freelancers; phishing and crypto pitches to anyone.
    market, rng = world.market, world.rng
    pool = market.freelancers if pitch == "fake_job" and market.freelancers else market.users
    return list({id(u): u for u in (rng.choice(pool) for _ in range(rng.randint(*VICTIMS)))}.values())


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    pitch = rng.choice(PITCHES)
    t = now + later(1, 20)
    scammer = fresh(world, t, "client" if pitch == "fake_job" or rng.random() < 0.6 else "freelancer",
                    has_photo=rng.random() < 0.5, phone_verified=rng.random() < 0.3)
    t += later(300, 5400)
    domain = rng.choice(SCAM_DOMAINS)
    for victim in _victims(world, pitch):
        if victim is scammer:
            continue
        thread = world.ids.new("thr")
        t += later(60, 1200)
        first, env = world.envelopes.message(t, thread, scammer, victim, rng.choice(
            SCAM_MESSAGE_OPENERS[pitch]).format(name=victim.first, domain=domain), False)
        world.agenda.push(t, env, NAME)
        u = t
        for _ in range(rng.choice((0, 1, 1, 2))):
            if rng.random() < 0.5:  # the victim answers before the catch
                u += later(120, 3600)
                _, env = world.envelopes.message(u, thread, victim, scammer,
                                                 rng.choice(SCAM_VICTIM_REPLIES), False)
                world.agenda.push(u, env, None)
            u += later(60, 1800)
            _, env = world.envelopes.message(u, thread, scammer, victim, rng.choice(
                SCAM_MESSAGE_FOLLOWUPS[pitch]).format(domain=domain), False)
            world.agenda.push(u, env, NAME)
        if rng.random() < 0.25:
            report(world, u + later(300, 7200), NAME, victim, "message", first, "scam",
                   "This looks like a scam, they want my details.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "A fresh account messages 1-4 strangers (fake job offer with a fake cheque or a paid "
        "certification, a phishing link to 'release' a payment, a crypto investment pitch) "
        "with 0-2 follow-ups, none of the off-platform rule's words; 25% of victims report."),
    emits=("message.sent", "user_report.filed"),
    weight=1.2,
    inject=inject,
    feasible=feasible,
)
