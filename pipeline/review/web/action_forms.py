"""Platform actions on the console's decision forms (the single case's and the ring's).

The form has a checkbox ``act_<action>`` per action of the case's entity type and, for an action
with a duration, a select ``days_<action>`` (its ``choices_days``; "until lifted" where the
duration is optional). What is chosen is checked by the queue like an API body's ``actions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.enforcement import ActionSpec, vocabulary
from pipeline.review.queue.errors import InvalidDecision


def choices(entity_type: str) -> list[ActionSpec]:
    """The actions the form offers for a case about ``entity_type``."""
    return vocabulary().for_entity(entity_type)


def chosen(form: Mapping[str, Any]) -> list[tuple[str, int | None]]:
    """The ``(action, duration_days)`` a form chose; :class:`InvalidDecision` for a duration
    that is not a whole number of days."""
    out = []
    for name in vocabulary().specs:
        if not form.get(f"act_{name}"):
            continue
        days = str(form.get(f"days_{name}") or "").strip()
        if days and not (days.isascii() and days.isdigit() and len(days) <= 4):
            raise InvalidDecision(f"{name}: the duration is a whole number of days")
        out.append((name, int(days) if days else None))
    return out
