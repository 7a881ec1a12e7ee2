"""fake_profile: an account that looks fake only once it fills in its marketplace profile.

The signup is ordinary (a person's typing speed, a mailbox of a common provider, its own
device), so no signup rule fires. Minutes later the account publishes a profile with the
statistical signature of fake accounts (the one the bought followers of cresci-2015 show too):
it follows hundreds of profiles and is followed by nobody, stuffs 15-40 skills from unrelated
fields, has no photo or verification, a generic or empty overview, an undercut rate, and no
history; half of them update it again, following still more. A fifth are careful fakes that
stay closer to the benign ranges. Nothing but a model reads a profile: no rule fires.
"""

from __future__ import annotations

from pipeline.sim.categories import CATEGORIES
from pipeline.sim.fraud_words import FAKE_HEADLINES, FAKE_OVERVIEWS
from pipeline.sim.scenarios.base import Scenario, bystander, fresh, report
from pipeline.sim.world import World

NAME = "fake_profile"
_ALL_SKILLS = tuple(dict.fromkeys(skill for cat in CATEGORIES for skill in cat.skills))


def inject(world: World, now: float) -> None:
    rng, later = world.rng, world.clock.later
    t = now + later(1, 20)
    careful = rng.random() < 0.2
    user = fresh(world, t, "freelancer", has_photo=rng.random() < 0.4,
                 phone_verified=rng.random() < 0.2, id_verified=rng.random() < 0.05, bio="")
    t += later(30, 900)
    payload = {
        "user_id": user.user_id, "account_type": "freelancer",
        "display_name": f"{user.first} {user.display_name.split()[-1][0]}.",
        "headline": rng.choice(FAKE_HEADLINES), "overview": rng.choice(FAKE_OVERVIEWS),
        "skills": rng.sample(_ALL_SKILLS, rng.randint(8, 15) if careful else rng.randint(15, 40)),
        "hourly_rate": rng.choice((3.0, 4.0, 5.0, 5.0, 8.0)) if rng.random() < 0.8 else None,
        "country": user.country,
        "followers": rng.choice((0, 0, 0, 1)),
        "following": rng.randint(10, 80) if careful else rng.randint(150, 3000),
        "portfolio_items": rng.choice((0, 0, 0, 1)),
        "has_photo": careful or rng.random() < 0.35,
        "identity_verified": user.id_verified, "phone_verified": user.phone_verified,
    }
    world.agenda.push(t, world.envelopes.profile(t, user, dict(payload)), NAME)
    if rng.random() < 0.5:
        t += later(600, 7200)
        payload.update(following=min(payload["following"] * rng.randint(2, 4), 10_000_000),
                       headline=rng.choice(FAKE_HEADLINES))
        world.agenda.push(t, world.envelopes.profile(t, user, dict(payload)), NAME)
    if rng.random() < 0.1 and (reporter := bystander(world, user)):
        report(world, t + later(600, 7200), NAME, reporter, "user", user.user_id,
               "fake_account", "Profile looks fake: copied text, no history, follows everyone.")


SCENARIO = Scenario(
    name=NAME,
    description=(
        "An ordinary signup, then 1-2 profile updates: following 150-3000 (careful fakes "
        "10-80), followers 0-1, 15-40 skills (careful 8-15), no history, rate $3-8 or none, "
        "generic or empty overview and headline, mostly no photo and unverified."),
    emits=("profile.updated", "user_report.filed"),
    weight=1.2,
    inject=inject,
)
