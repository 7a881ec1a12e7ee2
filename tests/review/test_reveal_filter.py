"""The console's ``reveal`` filter: invisible characters as escaped, marked placeholders,
look-alikes highlighted, everything else escaped as any attacker text is."""

from __future__ import annotations

from markupsafe import Markup

from pipeline.review.web.console import _env

reveal = _env.filters["reveal"]
note = _env.filters["hidden_note"]


def test_invisible_characters_become_markers_and_html_stays_inert() -> None:
    out = reveal('<b onclick="x">pay</b>\u200bpal \u202egoal\u202c')
    assert isinstance(out, Markup)
    assert "\u200b" not in out and "\u202e" not in out and "\u202c" not in out
    assert str(out) == (
        '&lt;b onclick=&#34;x&#34;&gt;pay&lt;/b&gt;'
        '<span class="hidden-char" title="U+200B ZERO WIDTH SPACE: invisible, shown here as a '
        'marker">⟦ZWSP⟧</span>pal '
        '<span class="hidden-char" title="U+202E RIGHT-TO-LEFT OVERRIDE: invisible, shown here '
        'as a marker">⟦RLO⟧</span>goal'
        '<span class="hidden-char" title="U+202C POP DIRECTIONAL FORMATTING: invisible, shown '
        'here as a marker">⟦PDF⟧</span>')


def test_lookalikes_are_highlighted_with_what_they_read_as() -> None:
    out = str(reveal("my P\u0430yPal & ｐａｙ"))
    assert ('<mark class="lookalike" title="U+0430 CYRILLIC SMALL LETTER A: looks like '
            '&#39;a&#39;, read as &#39;a&#39;">\u0430</mark>') in out
    assert out.count('class="lookalike"') == 4 and "&amp;" in out
    assert note("my P\u0430yPal\u200b") == (
        "This text holds 1 invisible and 1 look-alike characters, marked below.")
    assert note("pay\u00adpal") == "This text holds 1 invisible character, marked below."


def test_plain_and_foreign_text_is_only_escaped() -> None:
    for text in ("Can we talk on Thursday? <3", "Оплата через банк, а у нас всё хорошо",
                 "Καλημέρα, η πληρωμή μέσω της πλατφόρμας", "café"):
        assert str(reveal(text)) == str(Markup.escape(text))
        assert note(text) == ""
    assert str(reveal(42)) == "42" and note(None) == ""
