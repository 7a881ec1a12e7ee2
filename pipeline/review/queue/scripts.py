"""The queue's Lua scripts: ``lua/*.lua``, shipped as package data, registered once per client.

Every state change of the queue is one script, so it is atomic. Redis has no ``require``: a
script that needs a shared fragment (``priority.lua``) gets it prepended. Keys derive from ARGV
(the case a flag joins is only known inside the script); on Redis Cluster they would need a
shared hash tag. See README, "Known limits".

>>> source("add_flags").startswith(source("priority"))
True
>>> "local function priority" in source("decide")
False
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

#: The fragments each script needs, prepended in this order.
_NEEDS = {"add_flags": ("priority", "search", "each"), "add_samples": ("each",)}


@functools.cache
def source(name: str) -> str:
    """The text Redis runs for script ``name`` (its fragments first)."""
    folder = resources.files(__package__) / "lua"
    return "".join((folder / f"{part}.lua").read_text(encoding="utf-8")
                   for part in (*_NEEDS.get(name, ()), name))


@dataclass(frozen=True)
class Scripts:
    """The queue's scripts registered on one client (each call sends ``EVALSHA``, and the
    script itself once if Redis lacks it)."""

    add_flags: AsyncScript
    add_samples: AsyncScript
    claim: AsyncScript
    claim_next: AsyncScript
    release: AsyncScript
    decide: AsyncScript
    mark_breaches: AsyncScript
    mark_published: AsyncScript
    ack_action: AsyncScript
    open_appeal: AsyncScript
    auto_actions: AsyncScript
    snooze: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> Scripts:
        return cls(**{f.name: redis.register_script(source(f.name)) for f in fields(cls)})
