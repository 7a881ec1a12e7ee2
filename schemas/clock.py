"""How far from the reader's clock an event may be dated: events outside are dead-lettered.

``occurred_at`` is the producer's clock. An event dated far ahead of the worker's clock (year
9999) would trim its subject's feature windows up to its own time less the horizon, erasing the
history a burst after it needs; one dated far back is counted in windows nobody reads any more.
The worker refuses an event dated more than ``ahead`` seconds after its own clock (default 5
minutes: clocks of machines kept by NTP differ by far less, and a producer's queue delays an
event, never hurries it), or, with ``behind``, more than that before it. ``behind`` is off by
default: backfills, dead-letter replays and the simulator's fixed-date streams are legitimately
old, and an old event erases nothing (its trim point is older still). Events before
:data:`EARLIEST` are refused whatever the setting: a clock that was never set.

>>> from types import SimpleNamespace
>>> event = SimpleNamespace(occurred_at=datetime(9999, 1, 1, tzinfo=timezone.utc))
>>> ClockBound().check(event, now=datetime(2026, 1, 5, tzinfo=timezone.utc).timestamp())
Traceback (most recent call last):
...
schemas.errors.InvalidEvent: clock_skew: occurred_at 9999-01-01T00:00:00+00:00 is 251603193600 s ahead of the reader's clock (2026-01-05T00:00:00+00:00); at most 300 s ahead is accepted
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from schemas.errors import InvalidEvent
from schemas.events import Envelope

#: No event of Vigil's contracts happened before this; earlier means an unset clock (epoch 0).
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
_EARLIEST = EARLIEST.timestamp()


@dataclass(frozen=True)
class ClockBound:
    """``ahead``: seconds an event may be dated after the reader's clock; ``behind``: seconds
    before it (0: any age after :data:`EARLIEST`)."""

    ahead: float = 300.0
    behind: float = 0.0

    def check(self, event: Envelope, now: float) -> None:
        """Raise :class:`InvalidEvent` (``clock_skew``) if ``event`` is dated outside the bound
        around ``now`` (a POSIX time)."""
        at = event.occurred_at.timestamp()
        if at > now + self.ahead:
            raise InvalidEvent("clock_skew", (
                f"occurred_at {event.occurred_at.isoformat()} is {at - now:.0f} s ahead of the "
                f"reader's clock ({_iso(now)}); at most {self.ahead:g} s ahead is accepted"))
        if at < _EARLIEST or (self.behind and at < now - self.behind):
            limit = (f"{self.behind:g} s before the reader's clock ({_iso(now)})" if self.behind
                     and now - self.behind > _EARLIEST else EARLIEST.isoformat())
            raise InvalidEvent("clock_skew", (
                f"occurred_at {event.occurred_at.isoformat()} is before {limit}, the "
                f"earliest accepted"))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")
