"""Text obfuscation (look-alikes, width forms, invisible characters, marks) no longer hides a
payment request from the rules or the models, and legitimate text in other scripts is left
alone. The event and the decision stay about the text as it came."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.normalize as normalizing
from detectors.consent import CURRENT_POLICY_VERSION, ConsentRecord
from detectors.core import Context, decide
from detectors.examples import example_event
from detectors.features import text_fingerprints
from detectors.models.messages import ScamMessageModel
from detectors.normalize import INVISIBLE, MARKS, TEXT_FIELDS, detection_view, normalize
from detectors.ruleset import load_rules
from schemas.decode import decode_event_obj

RULE = "message.off_platform_payment"
RULES = load_rules()
ZWSP, SHY, ZWJ, RLO, PDF, LRI, PDI = "\u200b", "\u00ad", "\u200d", "\u202e", "\u202c", "\u2066", "\u2069"


def message(text: str) -> object:
    return decode_event_obj(example_event("message.sent", {"text": text,
                                                           "has_active_contract": False}))


def fired(text: str, *, normalized: bool = False) -> list[str]:
    """The rules that fire on a pre-contract message; ``normalized=True`` evaluates the raw
    text as if it were normalised already (what the rules saw before normalisation)."""
    event = message(text)
    if normalized:
        results = RULES.evaluate(event, {}, normalized=True)  # type: ignore[arg-type]
    else:
        results = decide(event, Context(features={}), RULES).results  # type: ignore[arg-type]
    return [r.detector_id for r in results if r.fired]


EVASIONS = {
    "homoglyph": "Just send the deposit to my P\u0430yP\u0430l and we can start.",  # Cyrillic а
    "homoglyph capitals": "Just send the deposit to my \u0420ay\u0420al and we can start.",  # Р
    "whole word in Cyrillic": "\u0440\u0430\u0443 me on Venmo before we start",  # "рау"
    "fullwidth": "Just send the deposit to my \uff30\uff41\uff59\uff30\uff41\uff4c please.",
    "mathematical letters": "Just send the deposit to my \U0001d429\U0001d41a\U0001d432pal.",
    "zero-width space": f"Just send the deposit to my Pay{ZWSP}Pal and we can start.",
    "zero-width joiner": f"Just send the deposit to my P{ZWJ}a{ZWJ}y{ZWJ}P{ZWJ}a{ZWJ}l now.",
    "soft hyphen": f"Just send the deposit to my Pay{SHY}Pal and we can start.",
    "combining marks": "Just send the deposit to my P\u0336a\u0336y\u0336P\u0336a\u0336l\u0336 now.",
    "accents": "Just s\u00e9nd the deposit to my P\u00e1yP\u00e1l and we can start.",
    "bidi controls": f"Just send the deposit to my Pay{RLO}Pal{PDF} and we can start.",
    "isolates": f"Just send the deposit to my {LRI}Pay{PDI}{LRI}Pal{PDI} and we can start.",
    "mixed": f"Just s\u0435nd the deposit to my \uff30{ZWJ}\u0430y{SHY}\u0420a\u0301l{ZWSP} now.",
    "contact, fullwidth": "Let's talk on \uff57\uff48\uff41\uff54\uff53\uff41\uff50\uff50 instead",
    "e-mail with look-alike dots": "email me at jobs\u2024hr@gmail\u2024com for the next steps",
}


@pytest.mark.parametrize("case", sorted(EVASIONS))
def test_each_evasion_flags_off_platform_payment(case: str) -> None:
    text = EVASIONS[case]
    assert fired(text, normalized=True) == []  # the raw text slipped past the rule
    assert fired(text) == [RULE]


def test_the_reason_quotes_what_the_rule_matched_and_the_event_keeps_the_original() -> None:
    text = EVASIONS["homoglyph"]
    event = message(text)
    decision = decide(event, Context(features={}), RULES)  # type: ignore[arg-type]
    (finding,) = decision.findings
    assert "PayPal" in finding.reason  # the normalised match, readable
    assert decision.event_id == event.id  # type: ignore[attr-defined]
    assert event.payload.text == text  # type: ignore[attr-defined]


LEGITIMATE = {
    "Russian": "Здравствуйте! Оплату можно сделать через банк после сдачи работы. "
               "Напишите мне здесь, в чате, если появятся вопросы.",
    "Russian, about messengers": "Мы обсудим детали в Телеграме? Нет, лучше здесь, на платформе.",
    "Greek": "Καλημέρα! Η πληρωμή γίνεται μέσω της πλατφόρμας μετά την παράδοση. Ευχαριστώ!",
    "Greek capitals": "ΚΑΛΗΜΕΡΑ ΣΑΣ, Η ΠΛΗΡΩΜΗ ΓΙΝΕΤΑΙ ΜΕΤΑ ΤΗΝ ΠΑΡΑΔΟΣΗ",
    "Arabic": "مرحبا، سأرسل لك المسودة الأولى غدا إن شاء الله",
    "Hindi": "नमस्ते, मैं कल पहला ड्राफ्ट भेज दूँगा। धन्यवाद!",
    "Japanese": "こんにちは、明日最初の下書きをお送りします。",
    "French": "Bonjour, je vous envoie la première maquette après-demain, ça vous va ?",
    "Polish": "Dzień dobry, zażółć gęślą jaźń: wyślę projekt jutro.",
    "emoji": "Thanks! 👍🏽 See you tomorrow 👩‍💻",
}


@pytest.mark.parametrize("language", sorted(LEGITIMATE))
def test_legitimate_text_in_other_scripts_does_not_flag(language: str) -> None:
    assert fired(LEGITIMATE[language]) == []


@pytest.mark.parametrize("language", ["Russian", "Russian, about messengers", "Greek", "Arabic",
                                      "Hindi", "Japanese"])
def test_words_of_other_scripts_are_left_as_they_are(language: str) -> None:
    text = LEGITIMATE[language]
    # Only a word made wholly of letters that look like ASCII ones changes (Russian "а", "в"
    # alone would be such words); every other word is exactly as written.
    changed = [(a, b) for a, b in zip(text.split(), normalize(text).split()) if a != b]
    assert all(b.isascii() and len(a) <= 2 for a, b in changed), changed


def test_models_featurise_the_normalised_text() -> None:
    model = ScamMessageModel(b"test-key-0123456789abcdef")
    consent = ConsentRecord("opted_in", CURRENT_POLICY_VERSION,
                            datetime(2026, 1, 1, tzinfo=timezone.utc), "c1")
    decision = decide(message(EVASIONS["mixed"]), Context(features={}, consent=consent),  # type: ignore[arg-type]
                      RULES, [model])
    (scored,) = [r for r in decision.results if r.detector_id == model.id]
    assert scored.model_input is not None and "w:paypal" in scored.model_input


def test_the_text_is_normalised_once_per_event_for_every_rule_and_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = normalizing.normalize
    monkeypatch.setattr(normalizing, "normalize", lambda t: calls.append(t) or real(t))
    model = ScamMessageModel(b"test-key-0123456789abcdef")
    consent = ConsentRecord("opted_in", CURRENT_POLICY_VERSION,
                            datetime(2026, 1, 1, tzinfo=timezone.utc), "c1")
    decide(message(EVASIONS["mixed"]), Context(features={}, consent=consent), RULES, [model])  # type: ignore[arg-type]
    assert calls == [EVASIONS["mixed"]]


def test_plain_ascii_events_are_the_very_same_object() -> None:
    event = message("Can we have a call on Thursday to go over the wireframes?")
    assert detection_view(event, TEXT_FIELDS["message.sent"]) is event  # type: ignore[arg-type]


def test_rule_examples_are_evaluated_on_normalised_text_as_in_production() -> None:
    from detectors.ruleset import run_examples
    rule = RULES.by_id[RULE]
    spec = rule.spec.model_copy(update={"examples": [
        *rule.spec.examples,
        type(rule.spec.examples[0])(name="homoglyph", expect="flag",
                                    payload={"text": EVASIONS["homoglyph"],
                                             "has_active_contract": False})]})
    from detectors.rule import CompiledRule
    copy = CompiledRule(spec, rule.program, rule.patterns, rule.reason_parts, rule.dedup_seconds)
    (outcome,) = [o for o in run_examples(copy) if o.name == "homoglyph"]
    assert outcome.passed, outcome


def test_near_duplicate_cover_letters_padded_with_invisible_characters_share_fingerprints() -> None:
    letter = ("Hi there, I am an expert developer with 10 years of experience in Python and "
              "Django. I can start today.")
    padded = ZWSP.join(letter[i:i + 3] for i in range(0, len(letter), 3))
    assert text_fingerprints(padded) == text_fingerprints(letter)


def test_the_tables_cover_every_mark_format_character_and_accented_letter_of_this_python() -> None:
    # The tables are made at import from a scan that skips blocks known to hold none.
    for cp in range(0x110000):
        char = chr(cp)
        category = unicodedata.category(char)
        if category == "Cf":
            assert cp in INVISIBLE, hex(cp)
        elif category in ("Mn", "Me"):
            assert cp in MARKS, hex(cp)
        elif category[0] == "L" and cp > 0x7F and unicodedata.decomposition(char):
            base = "".join(c for c in unicodedata.normalize("NFKD", char)
                           if not unicodedata.combining(c))
            if base.isascii() and base.isalpha():
                assert cp in normalizing._ACCENTED, hex(cp)


# ---- properties ----------------------------------------------------------------------------

INVISIBLES = sorted(INVISIBLE)
texts = st.text(max_size=60) | st.text(
    # Latin, look-alikes, marks, accented and Cyrillic letters, a styled astral letter, a
    # Kaithi letter NFKC splits from its astral nukta, dots that look alike.
    alphabet=st.sampled_from([*"paypl venmo\u0430\u0440\u0443\uff50\u0301\u0336\u0308\u00e9 .",
                              *"\u2024\u0416\u0439\u0438\u0451",
                              "\U0001d41a", "\U000110ba", "\U0001109a", "\U00011099"]),
    max_size=40)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@settings(max_examples=400, deadline=None)
@given(texts, st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(INVISIBLES)),
                       max_size=6))
def test_inserting_invisible_characters_does_not_change_the_normalised_form(
        text: str, insertions: list[tuple[int, int]]) -> None:
    padded = text
    for position, cp in insertions:
        at = position % (len(padded) + 1)
        padded = padded[:at] + chr(cp) + padded[at:]
    assert normalize(padded) == normalize(text)
