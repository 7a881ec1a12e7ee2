"""Who opts in to AI features, and when: at signup, later, or never; and who opts out again.

The simulated platform asks during onboarding (an optional "use AI features" choice on the
signup form). Users who answer send their ``consent.changed`` with the signup, stamped at the
same instant and published just before it, so their signup is already scored. Users who skip
are asked again later (a settings banner), and anyone can change their mind.

The shares are assumptions: no marketplace publishes its AI-consent rates. They follow what
field studies of consent prompts found when declining is as easy as accepting: about half the
people accept (Utz et al., "(Un)informed Consent: Studying GDPR Consent Notices in the Field",
ACM CCS 2019, experiments with 80,000 users of a German website; a cookie-banner test reported
by Fox Rothschild in 2019, in which ~50 % refused when a refuse button was offered and 90-98 %
accepted when it was not). An AI-features choice whose benefit the user sees (drafting help,
match suggestions) is assumed to do a little better than a cookie banner:

* at signup: :data:`AT_SIGNUP_OPT_IN` (55 %) opt in, :data:`AT_SIGNUP_DECLINE` (15 %) decline,
  the other 30 % skip the choice;
* scripted signups (fake-account rings) fill in only the required fields: they never answer;
* later (``BenignTraffic.consent``): skippers decide, :data:`LATER_OPT_IN` (60 %) of them in
  favour; a few decided users change their mind (an opt-out of an opted-in user, an opt-in of
  a decliner). Over a 20,000-event stream that is ~3 % of opted-in users opting out again.

Fraudsters who sign up by hand go through the same onboarding and answer like everyone else.

>>> import random
>>> rng = random.Random(1)
>>> draws = [signup_choice(rng) for _ in range(20_000)]
>>> abs(draws.count("opted_in") / 20_000 - 0.55) < 0.01, abs(draws.count(None) / 20_000 - 0.3) < 0.01
(True, True)
>>> signup_choice(rng, scripted=True) is None
True
"""

from __future__ import annotations

import random

AT_SIGNUP_OPT_IN = 0.55
AT_SIGNUP_DECLINE = 0.15
LATER_OPT_IN = 0.6
#: Of the later consent changes, the share that are skippers finally deciding (the rest are
#: decided users changing their mind).
LATER_FROM_UNDECIDED = 0.85


def signup_choice(rng: random.Random, *, scripted: bool = False) -> str | None:
    """The AI-features answer given on the signup form, or None if the choice was skipped."""
    r = rng.random()
    if scripted:
        return None
    if r < AT_SIGNUP_OPT_IN:
        return "opted_in"
    if r < AT_SIGNUP_OPT_IN + AT_SIGNUP_DECLINE:
        return "opted_out"
    return None


def later_choice(rng: random.Random, current: str | None) -> str:
    """A later answer: a skipper decides; a decided user changes their mind."""
    if current is None:
        return "opted_in" if rng.random() < LATER_OPT_IN else "opted_out"
    return "opted_out" if current == "opted_in" else "opted_in"
