"""Text as detection reads it: look-alikes, width forms, invisible characters and stray marks
folded away, so "pаypal" (Cyrillic а), "ｐａｙｐａｌ", "pay\\u200bpal" and "pa̷y̷pal" read "paypal".

Rules (their CEL and ``re2()`` calls) and the models' featurisation see the normalised text of
an event's free-text fields, computed once per event (:func:`detection_view`); the event
itself, flags and cases keep the original. :func:`normalize`:

1. Invisible characters removed: format characters (category Cf: zero-width space and
   joiners, soft hyphen, word joiner, bidi embeddings, overrides and isolates, the BOM),
   the rest of Default_Ignorable_Code_Point (variation selectors, the combining grapheme
   joiner, Hangul fillers, tag characters) and control characters other than tab and line
   breaks.
2. NFKC, compatibility normalisation: fullwidth and other width forms, ligatures, styled
   mathematical letters and circled letters become plain letters.
3. Look-alike symbols (one dot leader, division slash...) become their ASCII look-alike from
   the Unicode confusables table (UTS #39).
4. Per word (letters, digits and the marks on them): a word made only of ASCII, look-alike
   letters, accented Latin letters and combining marks ("pаypal" with a Cyrillic а, "рау" all
   in Cyrillic, "pa̷y̷pal", "cafés") becomes ASCII: look-alikes replaced, accents and marks
   dropped. A word holding any other letter (a Russian or Greek word with letters that look
   like no ASCII letter) is left exactly as it is, so text in other scripts is not turned
   into Latin gibberish.

The confusables come from the ``confusable-homoglyphs`` package (its ``confusables.json`` is
the Unicode confusables.txt as pairs, in both directions): every non-ASCII character paired
with an ASCII look-alike maps to it (each has exactly one). Plain ASCII text without control
characters, most text, is returned as it is after ``isascii()`` and a scan for controls.

>>> normalize("send it to my р\\u0430ypal") == normalize("send it to my ｐａｙｐａｌ") == "send it to my paypal"
True
>>> normalize("pay\\u200bpal pay\\u00adpal p\\u0327a\\u0336y\\u0301pal")
'paypal paypal paypal'
>>> normalize("Оплатите через банк, пожалуйста")  # Russian: left as it is
'Оплатите через банк, пожалуйста'
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from detectors.cost import bounds
from schemas.events import EVENT_MODELS, Envelope

#: Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) beyond category Cf: invisible
#: by definition, rendered as nothing (variation selectors, Hangul fillers, tags...).
_DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                      (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
                      (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
                      (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                      (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
#: Where every mark, format character and decomposable letter is: planes 0, 1 and 14, less
#: the big blocks without any (CJK ideographs, Hangul syllables, surrogates, private use). A
#: test checks this against the whole of unicodedata; scanning costs ~30 ms at import.
_SCANNED = (range(0x3400), range(0xA000, 0xAC00), range(0xD7A4, 0xD800), range(0xF900, 0x20000),
            range(0xE0000, 0xE1000))
_KEPT_CONTROLS = frozenset("\t\n\r")


def _scan() -> tuple[list[int], list[int], dict[int, str]]:
    """In one pass: the format characters (Cf), the marks (Mn, Me), and the letters that are
    ASCII letters plus marks (é, ñ, ǅ -> "e", "n", "Dz")."""
    formats, marks, accented = [], [], {}
    category, decomposition = unicodedata.category, unicodedata.decomposition
    for plane in _SCANNED:
        for cp in plane:
            char = chr(cp)
            kind = category(char)
            if kind == "Cf":
                formats.append(cp)
            elif kind == "Mn" or kind == "Me":
                marks.append(cp)
            elif kind[0] == "L" and cp > 0x7F and decomposition(char):
                parts = unicodedata.normalize("NFKD", char)
                base = "".join(c for c in parts if not unicodedata.combining(c))
                if base and base.isascii() and base.isalpha():
                    accented[cp] = base
    return formats, marks, accented


def _char_class(points: Iterable[int]) -> str:
    """A regex character class body matching exactly ``points`` (as ranges)."""
    parts, ordered = [], sorted(set(points))
    start = prev = ordered[0]
    for cp in [*ordered[1:], -1]:
        if cp != prev + 1:
            parts.append(re.escape(chr(start)) if start == prev
                         else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
            start = cp
        prev = cp
    return "".join(parts)


def _bmp_class(points: Iterable[int]) -> str:
    """A regex class of the BMP ones of ``points``. sre tests such a class through a bitmap
    (a few ns a character); one astral character makes it a list of ranges tried in turn,
    several times slower on every character. Astral characters, rare in text, are folded by
    a pass of their own that runs only when there are any (:data:`_ASTRAL`)."""
    return f"[{_char_class([p for p in points if p < 0x10000])}]"


def _invisible(formats: list[int]) -> list[int]:
    points = set(formats)
    for first, last in _DEFAULT_IGNORABLE:
        points.update(range(first, last + 1))
    points.update(cp for cp in [*range(0x20), *range(0x7F, 0xA0)] if chr(cp) not in _KEPT_CONTROLS)
    return sorted(points)


_FORMATS, _MARK_POINTS, _ACCENTED = _scan()
INVISIBLE = frozenset(_invisible(_FORMATS))
MARKS = frozenset(_MARK_POINTS)


def _lookalikes() -> dict[int, str]:
    """Every non-ASCII character the confusables table pairs with an ASCII look-alike, once
    marks and invisible characters are taken off the look-alike ("ł" -> "l̸" -> "l")."""
    text = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(
        encoding="utf-8")
    table: dict[int, str] = {}
    for source, pairs in json.loads(text).items():
        if (len(source) != 1 or source.isascii() or ord(source) in INVISIBLE
                or ord(source) in MARKS):
            continue
        for pair in pairs:
            target = pair["c"]
            if not target.isascii():
                target = "".join(c for c in unicodedata.normalize("NFKD", target)
                                 if ord(c) not in INVISIBLE and ord(c) not in MARKS)
            if target and target.isascii() and target.isprintable():
                table[ord(source)] = target
                break
    return table


#: Non-ASCII character -> its ASCII look-alike (UTS #39 confusables).
LOOKALIKES: dict[int, str] = _lookalikes()
_SYMBOLS = {cp: t for cp, t in LOOKALIKES.items() if cp < 0x10000 and not chr(cp).isalnum()}
#: What a foldable word's characters become: look-alikes and accented letters ASCII, marks
#: nothing (:func:`_word`).
_TO_ASCII: dict[int, str | None] = {**_ACCENTED, **LOOKALIKES, **dict.fromkeys(MARKS)}
#: Astral characters to fold (invisible or marks: dropped; look-alikes: to ASCII), wherever.
_ASTRAL_FOLD: dict[int, str] = {
    cp: ("" if cp in INVISIBLE or cp in MARKS else LOOKALIKES[cp])
    for cp in sorted({*INVISIBLE, *MARKS, *LOOKALIKES}) if cp >= 0x10000}

# One character a match: sre skips fast to a class, not to a run of it.
_INVISIBLE = re.compile(_bmp_class(INVISIBLE))
_SYMBOL = re.compile(_bmp_class(_SYMBOLS))
_MARK = _bmp_class(MARKS)
_FOLD = _bmp_class(_TO_ASCII)
_FOLDABLE = re.compile(_FOLD)
# A word (letters, digits and their marks: ``\\w`` alone takes no marks) made only of ASCII
# letters and digits and foldable characters, with at least one of those. The possessive runs
# and the look-behinds keep it linear: a word holding any other letter fails where that
# letter is, and no match starts inside a word.
_WORD = re.compile(rf"(?<!\w)(?<!{_MARK})[A-Za-z0-9_]*+{_FOLD}(?:[A-Za-z0-9_]|{_FOLD})*+"
                   rf"(?!\w)(?!{_MARK})")
#: One range: fast to find, unlike a class of the astral characters to fold (hundreds of
#: ranges, tried in turn on every character).
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_CONTROL_BYTES = bytes(c for c in range(0x20) if chr(c) not in _KEPT_CONTROLS) + b"\x7f"


def _symbol(match: re.Match[str]) -> str:
    return _SYMBOLS[ord(match.group())]


def _astral(match: re.Match[str]) -> str:
    char = match.group()
    return _ASTRAL_FOLD.get(ord(char), char)


def _word(match: re.Match[str]) -> str:
    return match.group().translate(_TO_ASCII)


def _plain_ascii(text: str) -> bool:
    """ASCII without control characters (tab and line breaks allowed): nothing to do.
    (``isascii`` is a flag; deleting control bytes from the encoded text, ~1 ns a character,
    is the fastest scan for them: ``isprintable`` takes ~2 ns, a regex ~5.)"""
    if not text.isascii():
        return False
    raw = text.encode("ascii")
    return len(raw.translate(None, _CONTROL_BYTES)) == len(raw)


def normalize(text: str) -> str:
    """``text`` as detection reads it (see the module's docstring). Idempotent, and inserting
    invisible characters anywhere does not change the result."""
    if _plain_ascii(text):
        return text
    astral = _ASTRAL.search(text) is not None
    if astral:
        text = _ASTRAL.sub(_astral, text)
    # Invisible characters go before NFKC: one between a letter and its marks would keep
    # them apart. NFKC is cheap on text already in that form (most text: a quick check).
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    if astral:  # NFKC makes astral letters of a few with (astral) marks: fold those too
        text = unicodedata.normalize("NFKC", _ASTRAL.sub(_astral, text))
    if text.isascii():
        return text
    text = _SYMBOL.sub(_symbol, text)
    if _FOLDABLE.search(text) is not None:
        text = _WORD.sub(_word, text)
    return text


# ---- showing it to analysts ---------------------------------------------------------------

#: Short names of the invisible characters seen in evasion, for their visible markers.
SHORT_NAMES = {0x00AD: "SHY", 0x034F: "CGJ", 0x061C: "ALM", 0x180E: "MVS", 0x200B: "ZWSP",
               0x200C: "ZWNJ", 0x200D: "ZWJ", 0x200E: "LRM", 0x200F: "RLM", 0x202A: "LRE",
               0x202B: "RLE", 0x202C: "PDF", 0x202D: "LRO", 0x202E: "RLO", 0x2060: "WJ",
               0x2066: "LRI", 0x2067: "RLI", 0x2068: "FSI", 0x2069: "PDI", 0xFEFF: "BOM"}
_SHOWN_WORD = re.compile(rf"(?:[\w]|{_MARK}|{_INVISIBLE.pattern})+")


@dataclass(frozen=True)
class Piece:
    """A run of text as the review console shows it: ``text`` as it is, an ``invisible``
    character (shown as a marker ``label``, never as itself, so a bidi control cannot act), or
    a ``lookalike`` character (``label``: the ASCII it reads as); ``title`` names it."""

    text: str
    kind: str = "text"
    label: str = ""
    title: str = ""


def _name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed character')}"


def _reads_as(char: str) -> str | None:
    """The ASCII a non-ASCII character reads as (a look-alike, a width or style form)."""
    if char.isascii():
        return None
    target = LOOKALIKES.get(ord(char))
    if target is None:
        folded = unicodedata.normalize("NFKC", char)
        target = folded if folded != char and folded.isascii() and folded.strip() else None
    return target


def _disguised(text: str) -> set[int]:
    """Where ``text`` holds look-alikes in words that read as ASCII once folded: a word mixing
    them with ASCII letters ("pаypal"), or one of three letters or more made of them ("рау"),
    as :func:`normalize` folds them; a single look-alike letter in a word of another script
    (Russian "а", "с") is not flagged."""
    found: set[int] = set()
    for word in _SHOWN_WORD.finditer(text):
        letters = [(word.start() + i, c) for i, c in enumerate(word.group())
                   if c.isalnum()]
        alike = [i for i, c in letters if _reads_as(c) is not None]
        if not alike:
            continue
        latin = all(c.isascii() or i in alike or ord(c) in _ACCENTED for i, c in letters)
        has_ascii = any(c.isascii() and c.isalpha() for _, c in letters)
        if latin and (has_ascii or len(letters) >= 3):
            found.update(alike)
    return found


def reveal(text: str) -> list[Piece]:
    """``text`` cut into what an analyst should see marked: its invisible characters (bidi
    controls, zero-width characters, soft hyphens...) and its disguised look-alikes.

    >>> [(p.kind, p.text or p.label) for p in reveal("pay\u200bp\u0430l \u202eok")]
    [('text', 'pay'), ('invisible', 'ZWSP'), ('text', 'p'), ('lookalike', 'а'), ('text', 'l '), \
('invisible', 'RLO'), ('text', 'ok')]
    >>> reveal("Оплата через банк")  # Russian as written: nothing to mark
    [Piece(text='Оплата через банк', kind='text', label='', title='')]
    """
    if _plain_ascii(text):
        return [Piece(text)]
    disguised = _disguised(text)
    pieces: list[Piece] = []
    run: list[str] = []
    for i, char in enumerate(text):
        if ord(char) in INVISIBLE or i in disguised:
            if run:
                pieces.append(Piece("".join(run)))
                run = []
            if ord(char) in INVISIBLE:
                pieces.append(Piece("", "invisible", SHORT_NAMES.get(ord(char), f"U+{ord(char):04X}"),
                                    f"{_name(char)}: invisible, shown here as a marker"))
            else:
                reads = _reads_as(char) or ""
                pieces.append(Piece(char, "lookalike", reads,
                                    f"{_name(char)}: looks like {reads!r}, read as {reads!r}"))
        else:
            run.append(char)
    if run:
        pieces.append(Piece("".join(run)))
    return pieces


# ---- events ------------------------------------------------------------------------------

#: Per event type: its free-text payload fields (strings without a pattern, lists).
TEXT_FIELDS: dict[str, frozenset[str]] = {
    event_type: frozenset(b.name for b in bounds(model.PAYLOAD_MODEL))
    for event_type, model in EVENT_MODELS.items()
}


def _normalized(value: Any) -> Any:
    if type(value) is str:
        return normalize(value)
    if type(value) is list:
        return [normalize(item) if type(item) is str else item for item in value]
    return value


def detection_view(event: Envelope, fields: Iterable[str]) -> Envelope:
    """``event`` with the payload ``fields`` normalised, or ``event`` itself when none
    changes (the usual case: plain ASCII). Only detection reads the view."""
    payload = event.payload  # type: ignore[attr-defined]
    changes: dict[str, Any] | None = None
    for name in fields:
        value = getattr(payload, name, None)
        kind = type(value)
        if kind is str:
            if _plain_ascii(value):  # normalize()'s fast path, without its call
                continue
        elif kind is not list or all(type(v) is not str or _plain_ascii(v) for v in value):
            continue
        new = _normalized(value)
        if new != value:
            changes = {} if changes is None else changes
            changes[name] = new
    if changes is None:
        return event
    return event.model_copy(update={"payload": payload.model_copy(update=changes)})
