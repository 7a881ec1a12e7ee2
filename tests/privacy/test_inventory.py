"""The data inventory names every place Vigil keeps a person's data: a key family the code
spells, a key a running stack writes, or a topic of the plan without an entry fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.privacy.inventory import (
    CHANNELS,
    INVENTORY,
    KAFKA,
    REDIS,
    entry_for_key,
    entry_for_topic,
    example_key,
    markdown_table,
)
from schemas.topics import topic_plan
from tests.support.paths import REPO as ROOT

#: A key literal in the code: a string that starts with "vigil:", or the queue's K + "..." and
#: f"{K}...".
_LITERALS = (re.compile(r"""["'](vigil:[A-Za-z_:.]*)"""),
             re.compile(r"""\bK \+ ["']([A-Za-z_:.]+)"""),
             re.compile(r"""\{K\}([A-Za-z_:.]+)"""))
_TAILS = ("", "x", "x:y", "x:y:z", "x:1", "x:y:1", "x:y:z:w", "1")


def key_literals() -> set[str]:
    found = set()
    for path in (ROOT / "pipeline").rglob("*"):
        if path.suffix not in (".py", ".lua"):
            continue
        text = path.read_text()
        for n, pattern in enumerate(_LITERALS):
            for literal in pattern.findall(text):
                found.add(literal if n == 0 else "vigil:" + literal)
    return found - {"vigil:"}  # the prefix alone


def covered(literal: str) -> bool:
    """Some key that starts with ``literal`` belongs to an entry (or it is a pub/sub channel)."""
    return (literal in CHANNELS or any(entry_for_key(literal + tail) for tail in _TAILS)
            or any(starts_a_segment(example_key(e), literal) for e in REDIS))


def starts_a_segment(key: str, prefix: str) -> bool:
    """``key`` starts with ``prefix`` and the prefix ends where a segment does."""
    return key.startswith(prefix) and (prefix.endswith(":") or key[len(prefix):][:1] in ("", ":"))


def test_every_key_family_the_code_spells_has_an_entry() -> None:
    literals = key_literals()
    assert len(literals) > 40  # the scan reads the code
    assert not sorted(l for l in literals if not covered(l))


def test_the_scan_notices_a_new_key_family() -> None:
    assert not covered("vigil:shadow_profiles:")


def test_every_topic_of_the_plan_has_an_entry() -> None:
    assert {t for t in topic_plan(4) if entry_for_topic(t) is None} == set()
    assert len(KAFKA) == len({e.pattern for e in KAFKA})


def test_entries_are_unique_and_say_what_erasure_does() -> None:
    patterns = [e.pattern for e in INVENTORY]
    assert len(patterns) == len(set(patterns))
    for e in INVENTORY:
        assert e.retention and e.writer, e
        # Anything personal is erased somehow; nothing personal is left to "none".
        assert (e.erasure == "none") == (not e.personal), e


@pytest.mark.parametrize("key, family", [
    ("vigil:case:case_1", "case"),
    ("vigil:case:case_1:flags", "case flags"),
    ("vigil:entity:user:usr_1:open_case", "open case of an entity"),
    ("vigil:f:device:dev_1:accounts", "accounts per device"),
    ("vigil:f:freelancer:usr_1:letter:2:a0833f068aae", "cover-letter fingerprints"),
    ("vigil:sla:pending", "case ids by status (sla:pending)"),
    ("vigil:model:input:e1:message.scam_model", "model inputs awaiting a label"),
])
def test_a_key_belongs_to_its_most_specific_entry(key: str, family: str) -> None:
    entry = entry_for_key(key)
    assert entry is not None and entry.family == family


def test_the_readme_table_is_the_inventory() -> None:
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate: python -c 'from pipeline.privacy.inventory " \
                                       "import markdown_table; print(markdown_table())'"


def test_redis_entries_are_redis_keys() -> None:
    assert all(e.pattern.startswith("vigil:") for e in REDIS)
    assert all(not Path(e.pattern).is_absolute() for e in INVENTORY)
