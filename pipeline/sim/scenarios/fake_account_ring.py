"""fake_account_ring: one person signs up several accounts from one device, and gets paid
through one account: each member's profile names the same payout (or payment) fingerprint."""

from __future__ import annotations

from pipeline.sim.fraud_words import FAKE_HEADLINES, RING_WORDS
from pipeline.sim.scenarios.base import Scenario, bystander, onboard, report
from pipeline.sim.words import BENIGN_DOMAINS, COUNTRIES, USER_AGENTS
from pipeline.sim.world import World

NAME = "fake_account_ring"
#: Accounts per ring (the ring rules' thresholds follow from it).
RING_SIZE = (3, 8)


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    device = world.ids.device()
    a, b, c = rng.randrange(64, 128), rng.randrange(256), rng.randrange(1, 200)
    country, agent = rng.choice(COUNTRIES), rng.choice(USER_AGENTS)
    domain = rng.choice(BENIGN_DOMAINS)
    kind = "freelancer" if rng.random() < 0.8 else "client"
    t = now
    members = []
    for i in range(rng.randint(*RING_SIZE)):
        t += later(45, 240) if i else later(1, 30)  # minutes apart
        username = f"{rng.choice(RING_WORDS)}{rng.randrange(100, 100_000)}"
        user, env = world.signups.new_user(
            t, kind, email_domain=domain, username=username, device_id=device,
            ip=f"100.{a}.{b}.{c + i}", country=country, user_agent=agent,
            duration_ms=rng.randint(1_200, 3_900), has_photo=False, phone_verified=False,
            id_verified=False, bio="",
        )
        members.append(user)
        onboard(world, t, user, scripted=True)  # a script skips the optional choice
        world.agenda.push(t, env, NAME)
    # The script then fills in one template profile per account, all paid out to one account.
    payout, headline = world.ids.payment(), rng.choice(FAKE_HEADLINES)
    field = "payout_fingerprint" if kind == "freelancer" else "payment_fingerprint"
    for user in members:
        t += later(20, 120)
        payload = {"user_id": user.user_id, "account_type": kind, "headline": headline,
                   "country": country, field: payout}
        world.agenda.push(t, world.envelopes.profile(t, user, payload), NAME)
    if rng.random() < 0.3 and (reporter := bystander(world)):
        target = rng.choice(members)
        report(world, t + later(600, 7200), NAME, reporter, "user", target.user_id,
               "fake_account", "Several near-identical new profiles, looks like one person.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "3-8 signups, one device_id, consecutive IPs in one 100.64.0.0/10 /24, 45-240 s apart, "
        "unverified, no photo, empty bio, signup_duration_ms 1200-3900, username word+3-5 "
        "digits; then one template profile per account, 20-120 s apart, all with the same "
        "payout (clients: payment) fingerprint."),
    emits=("user.signed_up", "profile.updated", "user_report.filed"),
    weight=1.0,
    inject=inject,
)
