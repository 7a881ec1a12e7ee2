"""off_platform_payment: pre-contract messages that try to take the payment off the platform."""

from __future__ import annotations

from pipeline.sim.fraud_words import (
    OFF_PLATFORM_FOLLOWUPS,
    OFF_PLATFORM_HOOKS,
    OFF_PLATFORM_LEADS,
)
from pipeline.sim.market import User
from pipeline.sim.scenarios.base import Scenario, fresh, report
from pipeline.sim.words import MSG_CLIENT_INVITE
from pipeline.sim.world import World

NAME = "off_platform_payment"


def _cast(world: World, t: float) -> tuple[float, User, User, str] | None:
    """Who tries it on whom: (time, fraudster, victim, the job the victim invites them to,
    or "" when the fraudster writes first), or ``None`` when nobody is there to contact."""
    rng, market = world.rng, world.market
    if market.proposals and rng.random() < 0.4:
        # An established freelancer tries to take a client off the platform.
        _, job, freelancer = rng.choice(market.proposals)
        return t, freelancer, job.client, job.title
    if market.jobs and rng.random() < 0.8:
        # A fresh account applies to a job only to pull the client away.
        job = rng.choice(market.jobs)
        fraudster = fresh(world, t, "freelancer")
        t += world.clock.later(60, 900)
        _, env = world.envelopes.proposal(
            t, job, fraudster, world.benign.cover_letter(job, fraudster),
            world.benign.bid(job), rng.choice((2, 4, 6)), False)
        world.agenda.push(t, env, None)
        return t, fraudster, job.client, job.title
    # A fake "client" contacts a freelancer directly.
    if not market.freelancers:
        return None
    fraudster = fresh(world, t, "client")
    for _ in range(3):
        candidate = rng.choice(market.freelancers)
        if candidate is not fraudster:
            return t, fraudster, candidate, ""
    return None


def feasible(world: World) -> bool:
    """Someone has proposed, or there are freelancers and jobs to propose to."""
    market = world.market
    return bool(market.proposals or (market.freelancers and market.jobs))


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    cast = _cast(world, now + later(1, 20))
    if cast is None:
        return
    t, fraudster, victim, invite_title = cast
    thread_id = world.ids.new("thr")
    if invite_title:
        # The victim (a client) opens the conversation, as the platform requires.
        t += later(300, 3600)
        _, env = world.envelopes.message(t, thread_id, victim, fraudster,
                                         rng.choice(MSG_CLIENT_INVITE).format(
                                             name=fraudster.first, title=invite_title), False)
        world.agenda.push(t, env, None)
    handle = f"{fraudster.first.lower()}{rng.randrange(10, 1000)}"
    fill = {"email": f"{handle}@{rng.choice(('mail.test', 'inbox.test', 'example.net'))}",
            "handle": handle,
            "phone": rng.choice((f"+1 202 555 01{rng.randrange(100):02d}",
                                 f"+44 7700 900{rng.randrange(1000):03d}"))}
    first_mid = ""
    for i in range(rng.choice((1, 1, 2, 3))):
        t += later(30, 900)
        hook = rng.choice(OFF_PLATFORM_HOOKS).format(**fill)
        lead = rng.choice(OFF_PLATFORM_LEADS) if i == 0 else rng.choice(
            OFF_PLATFORM_FOLLOWUPS).strip()
        mid, env = world.envelopes.message(t, thread_id, fraudster, victim,
                                           f"{lead} {hook}".strip(), False)
        first_mid = first_mid or mid
        world.agenda.push(t, env, NAME)
    if rng.random() < 0.4:
        report(world, t + later(120, 3600), NAME, victim, "message", first_mid,
               "off_platform_payment", "Asked me to pay outside the platform.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "1-3 pre-contract messages naming a payment app, a chat app, an email or a phone "
        "number."),
    emits=("message.sent", "user_report.filed"),
    weight=1.4,
    inject=inject,
    feasible=feasible,
)
