"""Errors of the detection core, under the project's one root :class:`VigilError`."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import VigilError


@dataclass(frozen=True)
class RuleProblem:
    """One problem in one rule file, located precisely enough to fix it."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class RuleSetInvalid(VigilError):
    """A rule set failed validation; it is refused whole and ``problems`` lists every issue."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"rule set refused, {len(problems)} problem(s):\n{lines}")


class NotMinimised(VigilError, AssertionError):
    """A model input holds a raw identifier (or something shaped like one): data minimisation failed."""


class SnapshotRefused(VigilError):
    """A model snapshot cannot be restored into this model (other model, version or format)."""
