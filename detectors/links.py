"""Links between accounts: the shared attributes an event reveals, pseudonymised.

Pure. :func:`link_keys` names what an event says its user shares with others: a device, an IP
address and its /24, an e-mail domain, a payment or payout fingerprint (the payment provider's
token for a card or bank account, on ``profile.updated``), a near-duplicate cover letter or
message sent outside a contract (the MinHash-LSH bands
:func:`detectors.features.text_fingerprints` computes for the duplicate rules). Device, IP,
prefix, domain and payment fingerprint are keyed hashes (:func:`detectors.privacy.keyed_hash`, under the models'
key), so the link index holds no raw identifier; a text band is already a hash of word bigrams.
Links are deterministic features, not AI scoring: they are kept for every user, whatever their
consent. Whether a domain is rare is decided by the index (a value shared by more accounts than
it keeps is too common to link anyone), not here. :func:`is_ring` is the ring threshold: enough
accounts on one device, enough of them confirmed fraud by an analyst (:func:`confirmed_subject`
names the account a ``review.decided`` event confirms).

>>> from schemas import decode_event_obj
>>> from detectors.features import EXAMPLE_SIGNUP
>>> event = decode_event_obj(EXAMPLE_SIGNUP)
>>> user, keys = link_keys(event, b"k" * 32)
>>> user == event.subject_id, sorted(k.split(":")[0] for k in keys)
(True, ['device', 'domain', 'ip', 'ip24'])
>>> link_kind("text:3:00ab12cd34ef")
'text'
"""

from __future__ import annotations

from typing import Literal

from detectors.enforcement import APPEAL_CASE_PREFIX
from detectors.features import ip_prefix, text_fingerprints
from detectors.privacy import keyed_hash
from schemas.events import (
    Envelope,
    MessageSent,
    ProfileUpdated,
    ProposalSubmitted,
    ReviewDecided,
    UserSignedUp,
)

LinkKind = Literal["device", "ip", "ip24", "domain", "payment", "text"]
#: What each kind of link means, for the console and the API.
KINDS: dict[str, str] = {
    "device": "same device",
    "ip": "same IP address",
    "ip24": "same /24 network",
    "domain": "same rare e-mail domain",
    "payment": "same payment or payout fingerprint",
    "text": "near-duplicate text",
}
#: The flag that opens a ring's case (on its oldest account), and the flag a bulk decision adds
#: to each other member so that each has a case of its own to decide.
RING_DETECTOR, RING_MEMBER_DETECTOR, RING_VERSION = "link.shared_device_ring", "link.ring_member", "1"
#: Texts shorter than this many characters are not linked: "thanks!" is no fingerprint.
MIN_TEXT = 40
#: How many of a text's six MinHash-LSH bands link it: each is a key in the index, and two cost
#: a third of six (``bench/links.py``) while still linking letters that overlap 90% (a template
#: with a name swapped in) 93% of the time (75% overlap: 66%; six bands: 96%).
TEXT_BANDS = 2


def link_keys(event: Envelope, key: bytes, *, messages: bool = False,
              ) -> tuple[str, tuple[str, ...]]:
    """The user an event is about and the link keys (``<kind>:<value>``) it reveals; no keys
    for an event that reveals nothing shared. ``messages``: link messages' texts too (their
    MinHash is not computed for the rules, unlike cover letters': ``bench/links.py``).

    >>> from schemas import decode_event_obj
    >>> from detectors.features import EXAMPLE_SIGNUP
    >>> a = link_keys(decode_event_obj(EXAMPLE_SIGNUP), b"k" * 32)[1]
    >>> a == link_keys(decode_event_obj(EXAMPLE_SIGNUP), b"k" * 32)[1] != link_keys(
    ...     decode_event_obj(EXAMPLE_SIGNUP), b"j" * 32)[1]
    True
    """
    p = event.payload
    if isinstance(event, UserSignedUp):
        domain = p.email.rsplit("@", 1)[-1].lower()
        return p.user_id, (
            f"device:{keyed_hash('device:' + p.device_id, key)}",
            f"ip:{keyed_hash('ip:' + p.ip, key)}",
            f"ip24:{keyed_hash('ip24:' + ip_prefix(p.ip), key)}",
            f"domain:{keyed_hash('domain:' + domain, key)}",
        )
    if isinstance(event, MessageSent):
        # Within a contract people write to each other as they like; a template sent to
        # strangers (before any contract) is what links a ring's accounts, at a fraction of
        # the messages' cost.
        return p.sender_id, () if p.has_active_contract or not messages else _texts(p.text)
    if isinstance(event, ProposalSubmitted):
        return p.freelancer_id, _texts(p.cover_letter)
    if isinstance(event, ProfileUpdated):
        # One namespace for both: a client paying with the card a freelancer cashes out to is
        # one person on both sides of a contract.
        tokens = dict.fromkeys(t for t in (p.payment_fingerprint, p.payout_fingerprint) if t)
        return p.user_id, tuple(f"payment:{keyed_hash('payment:' + t, key)}" for t in tokens)
    return event.subject_id, ()


def confirmed_subject(event: Envelope) -> str | None:
    """The account an analyst's decision confirms as fraud (a ``review.decided`` event with
    outcome ``confirmed_fraud``: its subject, the user the case is about), else None.

    >>> from schemas import decode_event_obj
    >>> from detectors.examples import example_event
    >>> decided = example_event("review.decided", {"outcome": "confirmed_fraud"})
    >>> confirmed_subject(decode_event_obj(decided)) == decided["subject_id"]
    True
    """
    if isinstance(event, ReviewDecided) and event.payload.outcome == "confirmed_fraud":
        return event.subject_id
    return None


def withdrawn_subject(event: Envelope) -> str | None:
    """The account whose confirmation an appeal withdrew: a ``review.decided`` event that
    decides an appeal (its case is an appeal's) ``legitimate``, reversing the decision that
    confirmed its subject as fraud; else None. The account no longer counts towards a ring.

    >>> from schemas import decode_event_obj
    >>> from detectors.examples import example_event
    >>> reversed_ = example_event("review.decided", {"outcome": "legitimate", "case_id": "apl_1"})
    >>> withdrawn_subject(decode_event_obj(reversed_)) == reversed_["subject_id"]
    True
    >>> cleared = example_event("review.decided", {"outcome": "legitimate", "case_id": "cas_1"})
    >>> withdrawn_subject(decode_event_obj(cleared)) is None  # not an appeal: nothing withdrawn
    True
    """
    if (isinstance(event, ReviewDecided) and event.payload.outcome == "legitimate"
            and event.payload.case_id.startswith(APPEAL_CASE_PREFIX)):
        return event.subject_id
    return None


def is_ring(accounts: int, confirmed: int, *, ring_accounts: int, ring_confirmed: int,
            max_group: int) -> bool:
    """Whether a device's ``accounts`` (``confirmed`` of them confirmed fraud) are a ring: at
    least ``ring_accounts`` accounts, at least ``ring_confirmed`` confirmed, and not more than
    the index keeps per value (a value shared by more is too common to link anyone). The Lua
    script of :mod:`pipeline.stores.links` applies the same test.

    >>> is_ring(5, 2, ring_accounts=5, ring_confirmed=2, max_group=50)
    True
    >>> is_ring(5, 1, ring_accounts=5, ring_confirmed=2, max_group=50)
    False
    """
    return ring_accounts <= accounts <= max_group and confirmed >= ring_confirmed


def _texts(text: str) -> tuple[str, ...]:
    if len(text) < MIN_TEXT:
        return ()
    return tuple(f"text:{band}" for band in text_fingerprints(text)[:TEXT_BANDS])


def link_kind(link_key: str) -> str:
    """The kind of a link key (``device``, ``ip``, ...)."""
    return link_key.split(":", 1)[0]
