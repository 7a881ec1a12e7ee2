"""What an event links (payment and payout fingerprints among them), whom a decision confirms,
and the ring threshold: pure, no servers."""

from __future__ import annotations

import pytest

from detectors.examples import example_event
from detectors.links import confirmed_subject, is_ring, link_keys
from schemas import decode_event_obj

KEY = b"k" * 32
TOKEN = "pm_1Qx7ZzT9fingerprint"


def profile(user: str, **fields: str) -> object:
    return decode_event_obj(example_event(
        "profile.updated", {"user_id": user, **fields}, subject_id=user, schema_version="1.1"))


def test_a_payout_fingerprint_links_by_keyed_hash_only() -> None:
    user, keys = link_keys(profile("u1", payout_fingerprint=TOKEN), KEY)
    assert user == "u1" and len(keys) == 1 and keys[0].startswith("payment:")
    assert TOKEN not in keys[0]
    assert link_keys(profile("u2", payout_fingerprint=TOKEN), KEY)[1] == keys  # the same token
    assert link_keys(profile("u2", payout_fingerprint=TOKEN), b"j" * 32)[1] != keys  # another key
    assert link_keys(profile("u3", payout_fingerprint=TOKEN + "x"), KEY)[1] != keys


def test_a_client_paying_with_what_a_freelancer_is_paid_to_is_one_link() -> None:
    freelancer = link_keys(profile("u1", payout_fingerprint=TOKEN), KEY)[1]
    client = link_keys(profile("u2", account_type="client", payment_fingerprint=TOKEN), KEY)[1]
    assert client == freelancer
    both = link_keys(profile("u3", payment_fingerprint=TOKEN, payout_fingerprint=TOKEN), KEY)[1]
    assert both == freelancer  # one instrument, one key


def test_a_profile_without_fingerprints_links_nothing() -> None:
    assert link_keys(decode_event_obj(example_event("profile.updated")), KEY)[1] == ()


@pytest.mark.parametrize(("outcome", "confirmed"), [
    ("confirmed_fraud", True), ("legitimate", False), ("escalate", False)])
def test_only_a_confirmed_fraud_decision_confirms_its_subject(outcome: str, confirmed: bool) -> None:
    event = decode_event_obj(example_event("review.decided", {"outcome": outcome},
                                           subject_id="u9"))
    assert confirmed_subject(event) == ("u9" if confirmed else None)
    assert confirmed_subject(decode_event_obj(example_event("user.signed_up"))) is None


@pytest.mark.parametrize(("accounts", "confirmed", "ring"), [
    (4, 4, False),   # too few accounts, however many are confirmed
    (5, 0, False), (5, 1, False),
    (5, 2, True), (8, 3, True),
    (50, 2, True),   # as many as the index keeps per value
    (51, 5, False),  # more: too common a value to link anyone
])
def test_a_ring_needs_enough_accounts_and_enough_of_them_confirmed(
        accounts: int, confirmed: int, ring: bool) -> None:
    assert is_ring(accounts, confirmed, ring_accounts=5, ring_confirmed=2, max_group=50) is ring


def test_no_confirmation_needed_when_the_setting_is_zero() -> None:
    assert is_ring(5, 0, ring_accounts=5, ring_confirmed=0, max_group=50)
