"""Data minimisation: keyed hashes, masked contact details, and the checker the model tests use."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.errors import NotMinimised
from detectors.privacy import assert_minimised, keyed_hash, mask_text

KEY = b"test-hash-key-0123456789abcdef"


@pytest.mark.parametrize(("text", "masked"), [
    ("write to ana.silva+work@mail.example.co.uk today", "write to <EMAIL> today"),
    ("see https://evil.example/pay?x=1 and www.foo.org", "see <URL> and <URL>"),
    ("pay at paypal.me/joe now", "pay at <URL> now"),
    ("call +44 7700 900123 or (555) 123-4567", "call <PHONE> or <PHONE>"),
    ("text WIN to 87121", "text WIN to <NUM>"),
    ("my server 192.168.10.1 is up", "my server <IP> is up"),
    ("ping @joe_smith on telegram", "ping <HANDLE> on telegram"),
    ("costs $25.50 at 10.30, see you", "costs $25.50 at 10.30, see you"),
    ("", ""),
])
def test_masks_contact_details_and_keeps_the_rest(text: str, masked: str) -> None:
    assert mask_text(text) == masked


emails = st.from_regex(r"[a-z][a-z0-9._]{2,12}@[a-z]{3,10}\.(com|org|io|pt)", fullmatch=True)
phones = st.from_regex(r"\+[1-9][0-9]{1,2} [0-9]{3} [0-9]{3} [0-9]{3,4}", fullmatch=True)
words = st.lists(st.sampled_from(["hi", "pay", "me", "on", "the", "job", "now", "ok"]), max_size=6)


@settings(max_examples=200, deadline=None)
@given(emails, phones, words, words)
def test_no_email_or_phone_survives_masking(email: str, phone: str, before: list[str],
                                            after: list[str]) -> None:
    text = " ".join([*before, email, "or", phone, *after])
    masked = mask_text(text)
    assert email not in masked and phone not in masked
    assert "<EMAIL>" in masked and "<PHONE>" in masked


def test_keyed_hash_depends_on_the_key_and_is_short_hex() -> None:
    a, b = keyed_hash("u42", KEY), keyed_hash("u42", b"another-key-0123456789")
    assert a != b and len(a) == 16 and int(a, 16) >= 0
    assert keyed_hash("u42", KEY) == a and keyed_hash("u43", KEY) != a
    with pytest.raises(ValueError):
        keyed_hash("u42", b"")


def test_assert_minimised_finds_identifiers_anywhere_in_any_case() -> None:
    assert_minimised({"w:hello": 1.0, "nested": {"a": [1, "fine"]}}, ["u_secret"])
    with pytest.raises(NotMinimised, match="u_secret"):
        assert_minimised({"deep": {"list": ["x", "prefix-U_SECRET-suffix"]}}, ["u_secret"])
    with pytest.raises(NotMinimised, match="u_secret"):
        assert_minimised({"key=u_secret": 1.0}, ["u_secret"])
    with pytest.raises(NotMinimised, match="email"):
        assert_minimised({"w:bob@corp.io": 1.0}, [])
    with pytest.raises(NotMinimised, match="IP"):
        assert_minimised({"note": "from 10.1.2.3"}, [])
    with pytest.raises(NotMinimised, match="IP"):
        assert_minimised({"note": "from 2001:db8:0:1::7"}, [])
