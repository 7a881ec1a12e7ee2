"""The consent gate: may an AI detector score, or learn from, this subject's data?

Pure policy. The pipeline keeps the records (fed by ``consent.changed``) and asks this module.
The gate fails closed: opted out, never asked, an outdated policy version, or a record the
pipeline could not read all mean *no*.

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> rec = ConsentRecord("opted_in", "2026-01", datetime(2026, 2, 1, tzinfo=timezone.utc), "e1")
>>> consent_gate(rec, policy_version="2026-01", at=t).allowed
True
>>> consent_gate(None, policy_version="2026-01", at=t).reason
'no_consent: never asked'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

#: The AI-features policy version users currently consent to. Consent given under an older
#: version does not carry over: the user has to be asked again.
CURRENT_POLICY_VERSION = "2026-01"


@dataclass(frozen=True)
class ConsentRecord:
    state: Literal["opted_in", "opted_out"]
    policy_version: str
    changed_at: datetime
    event_id: str

    def audit(self) -> dict[str, str]:
        """What an AI flag records about the consent that allowed it."""
        return {
            "state": self.state,
            "policy_version": self.policy_version,
            "changed_at": self.changed_at.isoformat(),
            "event_id": self.event_id,
        }


class ConsentUnavailable:
    """Marker: the pipeline could not read the subject's consent state (fail closed)."""

    def __repr__(self) -> str:
        return "CONSENT_UNAVAILABLE"


CONSENT_UNAVAILABLE = ConsentUnavailable()


@dataclass(frozen=True)
class GateResult:
    allowed: bool
    reason: str
    record: ConsentRecord | None = None


def consent_gate(
    record: ConsentRecord | ConsentUnavailable | None,
    *,
    policy_version: str = CURRENT_POLICY_VERSION,
    at: datetime,
) -> GateResult:
    """Decide whether AI may process a subject's event that happened at ``at``.

    ``record`` must be the subject's consent record as of ``at`` (the latest change at or
    before it); the pipeline looks that up.
    """
    if isinstance(record, ConsentUnavailable):
        return GateResult(False, "no_consent: consent state unavailable")
    if record is None:
        return GateResult(False, "no_consent: never asked")
    if record.changed_at > at:
        return GateResult(False, "no_consent: consent given after the event", record)
    if record.state != "opted_in":
        return GateResult(False, "no_consent: opted out", record)
    if record.policy_version != policy_version:
        return GateResult(
            False,
            f"no_consent: consent under policy {record.policy_version}, current is {policy_version}",
            record,
        )
    return GateResult(True, "opted_in", record)


def effective_consent(
    at_event: ConsentRecord | ConsentUnavailable | None,
    latest: ConsentRecord | ConsentUnavailable | None,
) -> ConsentRecord | ConsentUnavailable | None:
    """The record the gate must judge: consent as of the event, unless it was withdrawn since.

    An opt-out takes effect for everything processed after it, including events that happened
    before it but were still queued; so a later record that is not a current opt-in wins.

    >>> from datetime import datetime, timezone
    >>> t1, t2 = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 2, 1, tzinfo=timezone.utc)
    >>> given = ConsentRecord("opted_in", "2026-01", t1, "e1")
    >>> withdrawn = ConsentRecord("opted_out", "2026-01", t2, "e2")
    >>> effective_consent(given, withdrawn).state
    'opted_out'
    >>> effective_consent(given, given).state
    'opted_in'
    """
    if isinstance(latest, ConsentUnavailable) or isinstance(at_event, ConsentUnavailable):
        return CONSENT_UNAVAILABLE
    if latest is not None and latest.state != "opted_in":
        return latest
    return at_event


# ---- learning (and sampling for labels): the same gate, plus "not opted out since" ------------


def learning_gate(
    consent_at_event: ConsentRecord | ConsentUnavailable | None,
    consent_now: ConsentRecord | ConsentUnavailable | None,
    *,
    policy_version: str = CURRENT_POLICY_VERSION,
    event_time: datetime,
) -> GateResult:
    """May a model learn from an event that happened at ``event_time``?

    The one predicate for using a subject's event to teach a model:
    :func:`detectors.core.learn_from_label` asks it before a model learns, and
    :mod:`detectors.sampling` before it sends an event to an analyst for a label. Only if the
    subject had opted in under the current policy when the event happened (``consent_at_event``: the record in force then) *and* that is still their latest consent
    record (``consent_now``): an opt-out since, a new policy, or any other change since
    (even a renewed opt-in: it says nothing about the events before it) means no, as does a
    state that cannot be read. Fails closed, like :func:`detectors.consent.consent_gate`.

    >>> from datetime import timezone
    >>> t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> yes = ConsentRecord("opted_in", "2026-01", datetime(2026, 2, 1, tzinfo=timezone.utc), "c1")
    >>> no = ConsentRecord("opted_out", "2026-01", datetime(2026, 3, 2, tzinfo=timezone.utc), "c2")
    >>> learning_gate(yes, yes, event_time=t).allowed
    True
    >>> learning_gate(yes, no, event_time=t).reason
    'no_consent: opted out since the event'
    """
    then = consent_gate(consent_at_event, policy_version=policy_version, at=event_time)
    if not then.allowed:
        return GateResult(False, f"{then.reason} (at the event)", then.record)
    allowed_by = then.record
    assert allowed_by is not None  # consent_gate allows only with a record
    if isinstance(consent_now, ConsentUnavailable) or consent_now is None:
        return GateResult(False, "no_consent: current consent state unavailable", allowed_by)
    if consent_now.state != "opted_in":
        return GateResult(False, "no_consent: opted out since the event", allowed_by)
    if consent_now.policy_version != policy_version:
        return GateResult(False, f"no_consent: consent now under policy "
                                 f"{consent_now.policy_version}, current is {policy_version}",
                          allowed_by)
    if consent_now != allowed_by:
        return GateResult(False, "no_consent: consent changed since the event", allowed_by)
    return GateResult(True, "opted_in", allowed_by)
