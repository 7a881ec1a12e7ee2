"""The shared text features: the fast paths give exactly what the plain definitions give."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.models.signups import _mask_name
from detectors.models.text import _TOKEN, MAX_TOKENS, text_shape, tokens
from detectors.privacy import mask_text

# Texts with the characters the tokeniser and the masks care about: all-ASCII ones (the fast
# paths), and ones with non-ASCII characters too (accents, ß, the Kelvin sign and the long s,
# which case-fold onto ASCII letters, symbols, digits of other scripts).
_ASCII = ["a", "Z", "q", "k", "S", "0", "7", " ", "\t", "\n", "!", "?", "$", "@", ".", "_", "-",
          ":", "/", "+", "(", "www.", ".com", "+44 7700 900123", "12345", "http://x.io"]
_OTHER = ["<", ">", "<phone>", "<b>", "é", "ß", "\u212a", "\u017f", "İ", "£", "€", "₹", "¿",
          "中", "٣", "\u00a0"]
texts = st.one_of(st.lists(st.sampled_from(_ASCII), max_size=40),
                  st.lists(st.sampled_from(_ASCII + _OTHER), max_size=40)).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_tokens_are_the_token_patterns_matches(text: str) -> None:
    assert tokens(text) == _TOKEN.findall(mask_text(text).lower())[:MAX_TOKENS]


def test_long_texts_are_cut_at_max_tokens() -> None:
    text = "word! " * MAX_TOKENS
    assert tokens(text) == _TOKEN.findall(text.lower())[:MAX_TOKENS] and len(tokens(text)) == MAX_TOKENS


@settings(max_examples=400, deadline=None)
@given(texts)
def test_text_shape_counts_what_the_str_methods_count(text: str) -> None:
    shape = text_shape(text, "t_")
    letters = sum(c.isalpha() for c in text)
    upper = sum(c.isupper() for c in text)
    assert shape["t_upper_frac"] == (upper / letters if letters else 0.0)
    assert shape["t_digit_frac"] == sum(c.isdigit() for c in text) / max(len(text), 1)


@settings(max_examples=400, deadline=None)
@given(texts, st.one_of(st.lists(st.sampled_from(["an", "A", "s", "K", ".", "*"]), min_size=3, max_size=5),
                       st.lists(st.sampled_from(["an", "s", "\u212a", "\u017f", "é"]), min_size=3, max_size=5),
                       ).map("".join))
def test_own_names_are_masked_as_re2_would(text: str, name: str) -> None:
    # Make the name occur now and then, as it is and in other cases.
    text = text.replace("a", name, 1).replace("S", name.upper(), 1).replace("k", name.swapcase(), 1)
    assert _mask_name(text, name) == re2.compile("(?i)" + re2.escape(name)).sub(" <name> ", text)
