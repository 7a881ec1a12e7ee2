"""What a service token may publish through ``POST /api/events``: event types and producer names.

A scope is set when the token is made (``vigil review add-user NAME --role service
--event-types a,b --producers x,y``) and kept in the token's user record. ``*`` (and a token made
before scopes existed, whose record has none) means every event type but the restricted ones,
and any producer name.

*Restricted* types are control-plane writes: a token publishes one only when its event types
name it. ``consent.changed`` is the first (it is written to the consent registry at once and
turns AI scoring on or off for a user): naming it is the *consent scope*, which the consent
service's token alone should hold. ``erasure.requested`` is restricted to the privacy service
the same way (the *privacy scope*, which also reads a user's export).

>>> scope = PublishScope.parse(["user_report.filed"], ["reports"])
>>> scope.refusal("user_report.filed", "reports") is None
True
>>> scope.refusal("message.sent", "reports")
'this token may publish user_report.filed, not message.sent'
>>> print(PublishScope().refusal("consent.changed", "consent"))  # doctest: +ELLIPSIS
consent.changed is restricted (the consent scope: ...): a token publishes it only when its event types name it; this token's are * (every type but action.applied, action.failed, appeal.filed, consent.changed, erasure.requested)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.topics import TOPIC_BY_TYPE

ALL = "*"
#: Restricted event types, with what publishing one does: only a token whose event types name
#: the type may publish it (``*`` never includes these).
RESTRICTED: dict[str, str] = {
    "consent.changed": "the consent scope: it is written to the consent registry at once and "
                       "turns AI scoring on or off for a user",
    # The platform scope: what a platform service says back about actions and for its users.
    "action.applied": "the platform scope: it marks a platform action carried out on its case",
    "action.failed": "the platform scope: it marks a platform action failed (and alerts)",
    "appeal.filed": "the platform scope: it reopens a decision as an appeal case",
    "erasure.requested": "the privacy scope: it erases everything Vigil keeps about a user",
}
#: Types no token may publish: the review service writes them itself.
NEVER: dict[str, str] = {"review.decided": "review.decided events come from the review service only"}
PRODUCER_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


class ScopeError(ValueError):
    """A scope that names an unknown or unpublishable event type, or a malformed producer."""


def _names(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    names = frozenset(v.strip() for v in values if v.strip())
    return names or None


@dataclass(frozen=True)
class PublishScope:
    """``event_types``/``producers`` of ``None``: every unrestricted type / any producer."""

    event_types: frozenset[str] | None = None
    producers: frozenset[str] | None = None

    @classmethod
    def parse(cls, event_types: Iterable[str] | None,
              producers: Iterable[str] | None) -> PublishScope:
        """A scope from the names given to ``add-user``; :class:`ScopeError` if one is wrong."""
        types, makers = _names(event_types), _names(producers)
        for name in sorted(types or ()):
            if name in NEVER:
                raise ScopeError(NEVER[name])
            if name != ALL and name not in TOPIC_BY_TYPE:
                known = ", ".join(sorted(set(TOPIC_BY_TYPE) - set(NEVER)))
                raise ScopeError(f"unknown event type {name!r} (known: {known}, or {ALL})")
        for name in sorted(makers or ()):
            if name != ALL and not PRODUCER_RE.match(name):
                raise ScopeError(f"producer name {name!r} must be 1-64 letters, digits or _.:@-")
        if types == {ALL}:
            types = None
        if makers is not None and ALL in makers:
            makers = None
        return cls(types, makers)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PublishScope:
        """The scope kept in a user record (none kept: a token made before scopes existed)."""
        return cls(_names(record.get("event_types")), _names(record.get("producers")))

    def to_record(self) -> dict[str, list[str] | None]:
        return {"event_types": sorted(self.event_types) if self.event_types else None,
                "producers": sorted(self.producers) if self.producers else None}

    def may_publish_type(self, event_type: str) -> bool:
        if event_type in NEVER:
            return False
        if self.event_types is not None and event_type in self.event_types:
            return True
        unrestricted = self.event_types is None or ALL in self.event_types
        return unrestricted and event_type not in RESTRICTED

    def refusal(self, event_type: str, producer: str) -> str | None:
        """Why this token may not publish an event of ``event_type`` from ``producer``, or
        ``None`` when it may."""
        if event_type in NEVER:
            return NEVER[event_type]
        if not self.may_publish_type(event_type):
            if event_type in RESTRICTED and (self.event_types is None or ALL in self.event_types):
                return (f"{event_type} is restricted ({RESTRICTED[event_type]}): a token publishes "
                        f"it only when its event types name it; this token's are "
                        f"{self.describe_types()}")
            return f"this token may publish {self.describe_types()}, not {event_type}"
        if self.producers is not None and producer not in self.producers:
            return (f"this token may publish as producer {', '.join(sorted(self.producers))}, "
                    f"not {producer!r}")
        return None

    def describe_types(self) -> str:
        """``consent.changed`` or ``* (every type but consent.changed)``."""
        named = sorted(self.event_types or ())
        if self.event_types is None or ALL in self.event_types:
            others = [t for t in named if t != ALL]
            base = f"{ALL} (every type but {', '.join(sorted(RESTRICTED))})"
            return ",".join([base, *others])
        return ",".join(named)

    def describe_producers(self) -> str:
        return ",".join(sorted(self.producers)) if self.producers else ALL
