"""Where a worker gets its rule set: the one interface it judges events through.

:class:`~pipeline.rules.live.LiveRules` follows deploys without a restart; :class:`StaticRules`
holds one rule set for good (tests, tools). The worker asks either the same way, so it never
asks which kind it has.

>>> from detectors.ruleset import RuleSet
>>> import asyncio
>>> rules = StaticRules(RuleSet((), fingerprint="none"))
>>> rules().fingerprint, rules.version, asyncio.run(rules.refresh())
('none', None, False)
"""

from __future__ import annotations

from typing import Protocol

from detectors.ruleset import RuleSet


class RuleSource(Protocol):
    def __call__(self) -> RuleSet:
        """The rule set in force, without I/O (asked once per batch)."""
        ...

    @property
    def version(self) -> int | None:
        """The deployed version in force; None for rules that were never deployed."""
        ...

    async def refresh(self) -> bool:
        """Switch to a newer rule set if there is one; True if it switched. The worker awaits
        it once before its first batch: no event is judged by rules about to be replaced."""
        ...

    async def watch(self) -> None:
        """Follow changes until cancelled (returns at once if there is nothing to follow)."""
        ...


class StaticRules:
    """One rule set, in force for good."""

    def __init__(self, rules: RuleSet, version: int | None = None) -> None:
        self._rules = rules
        self._version = version

    def __call__(self) -> RuleSet:
        return self._rules

    @property
    def version(self) -> int | None:
        return self._version

    async def refresh(self) -> bool:
        return False

    async def watch(self) -> None:
        return None
