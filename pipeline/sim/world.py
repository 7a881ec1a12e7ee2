"""The simulated world's composition root: one random generator shared by every part.

Everything that draws (clock, ids, envelopes, signups, benign traffic, scenarios) draws from
the same :class:`random.Random`, so a seed fixes the whole stream; the order of the draws is
therefore part of the output, and a refactor must keep it.
"""

from __future__ import annotations

import random
from datetime import datetime

from pipeline.sim.benign import BenignTraffic
from pipeline.sim.clock import Agenda, Clock
from pipeline.sim.envelopes import Envelopes
from pipeline.sim.ids import Ids
from pipeline.sim.market import Market
from pipeline.sim.profiles import Profiles
from pipeline.sim.signups import Signups


class World:
    """The population, its open jobs and threads, and a clock with a queue of future events.

    Constructs its parts and does nothing else; :mod:`pipeline.sim.stream` drives it and the
    scenarios act on it.

    >>> from datetime import timezone
    >>> world = World(random.Random(1), datetime(2026, 1, 5, tzinfo=timezone.utc), 2.0)
    >>> env = world.benign.next(0.0)   # a new user's consent, their signup right behind it
    >>> env["type"], len(world.market.users), world.agenda.pop_due(0.0).envelope["type"]
    ('consent.changed', 1, 'user.signed_up')
    """

    def __init__(self, rng: random.Random, start: datetime, mean_gap: float) -> None:
        self.rng = rng
        self.clock = Clock(rng, start, mean_gap)
        self.agenda = Agenda()
        self.ids = Ids(rng)
        self.market = Market()
        self.envelopes = Envelopes(self.ids, self.clock)
        self.signups = Signups(rng, self.ids, self.envelopes)
        self.profiles = Profiles(rng, self.envelopes)
        self.benign = BenignTraffic(rng, clock=self.clock, agenda=self.agenda, ids=self.ids,
                                    envelopes=self.envelopes, signups=self.signups,
                                    profiles=self.profiles, market=self.market)
