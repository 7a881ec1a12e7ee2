"""What a fraud scenario is, and the steps scenarios share (a fraudster's fresh account, a
bystander's report).

A scenario injects one instance of its fraud into the world at a simulated time: it schedules
its events on the world's agenda, labelled with its name, beside any unlabelled context (the
fraudster's own signup, a victim's reply), which it schedules with the label ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.sim.market import User
from pipeline.sim.world import World


def always(world: World) -> bool:
    return True


@dataclass(frozen=True)
class Scenario:
    """One fraud scenario: what it is called, what it does, and how to inject it.

    >>> from pipeline.sim.scenarios import REGISTRY
    >>> ring = REGISTRY[0]
    >>> ring.name, ring.emits
    ('fake_account_ring', ('user.signed_up', 'profile.updated', 'user_report.filed'))
    """

    #: The label on its events: the ``labels`` rules name and the backtest scores recall on.
    name: str
    #: What the fraud looks like, with the sizes and timings rule thresholds follow from.
    description: str
    #: The event types it labels with :attr:`name` (its unlabelled context not included).
    emits: tuple[str, ...]
    #: Relative chance of being picked when a scenario starts: chattier scenarios start less
    #: often, so each contributes a comparable number of instances.
    weight: float
    #: Schedules one instance at simulated time ``now`` (draws only from ``world.rng``).
    inject: Callable[[World, float], None]
    #: Whether the world can host an instance yet (enough jobs, users...); draws nothing.
    feasible: Callable[[World], bool] = always


def fresh(world: World, t: float, kind: str, **overrides: Any) -> User:
    """A fraudster's own account: its signup (and the AI-features answer given with it, as
    anyone's) is supporting context, labelled benign."""
    user, env = world.signups.new_user(t, kind, **overrides)
    onboard(world, t, user)
    world.agenda.push(t, env, None)
    return user


def onboard(world: World, t: float, user: User, *, scripted: bool = False) -> None:
    """Schedule the consent answer sent with ``user``'s signup form at ``t``, if any: before
    the signup, which the caller schedules next at the same instant."""
    consent = world.signups.onboarding_consent(t, user, scripted=scripted)
    if consent is not None:
        world.agenda.push(t, consent, None)


def report(
    world: World, t: float, scenario: str, reporter: User, target_type: str, target_id: str,
    reason: str, details: str,
) -> None:
    """Schedule a user report about a scenario's event, labelled with the scenario."""
    world.agenda.push(t, world.envelopes.report(t, reporter, target_type, target_id, reason,
                                                details), scenario)


def bystander(world: World, *exclude: User) -> User | None:
    """Someone who noticed (a few tries at a random user not in ``exclude``), or ``None``."""
    for _ in range(3):
        if not world.market.users:
            return None
        user = world.rng.choice(world.market.users)
        if user not in exclude:
            return user
    return None
