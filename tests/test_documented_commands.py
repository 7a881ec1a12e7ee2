"""Every ``vigil`` command line the README and the runbooks show names a command that exists,
with options it takes: an on-call engineer copying one from a runbook at 3 a.m. must not find
it renamed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from pipeline.cli.main import app

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs" / "runbooks").glob("*.md"))]
#: ``vigil ...`` in an inline code span, or at the start of a code line (after a compose or
#: kubectl exec prefix, or .venv/bin/); up to a comment, a pipe or the end of the span.
_INLINE = re.compile(r"`(?:\.venv/bin/)?(vigil [^`]+)`")
_FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.S)
_LINE = re.compile(r"^[ \t]*(?:\S+ exec \S+ (?:-- )?)?(?:\.venv/bin/)?(vigil [a-z][^#|`\n]*)", re.M)


def documented_commands() -> list[tuple[str, str]]:
    """(document, command line) of every ``vigil`` command the documents show."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text()
        code = "\n".join(_FENCED.findall(text))
        prose = _FENCED.sub("", text)  # an inline span may wrap onto the next line
        for line in _INLINE.findall(prose) + _LINE.findall(code):
            found.append((path.name, " ".join(line.split())))
    return sorted(set(found))


def check(line: str) -> list[str]:
    """What is wrong with a documented command line (empty when it resolves)."""
    words = shlex.split(line.replace("...", "").replace("[", " ").replace("]", " "))[1:]
    # typer's click (vendored in newer typer): groups are told apart by having subcommands.
    command: Any = typer.main.get_command(app)
    path = ["vigil"]
    while hasattr(command, "list_commands") and words and not words[0].startswith("-"):
        sub = command.get_command(typer.Context(command), words[0])
        if sub is None:
            return [f"{' '.join(path)} has no command {words[0]!r}"]
        path.append(words.pop(0))
        command = sub
    if hasattr(command, "list_commands"):
        return [] if not words else [f"{' '.join(path)} is a group; {words[0]!r} is no command"]
    options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    return [f"{' '.join(path)} has no option {word.split('=')[0]}" for word in words
            if word.startswith("-") and word.split("=")[0] not in options]


@pytest.mark.parametrize("document,line", documented_commands())
def test_documented_command_exists(document: str, line: str) -> None:
    assert check(line) == [], f"{document}: `{line}`"


def test_the_documents_show_commands_and_the_check_catches_a_wrong_one() -> None:
    lines = [line for _, line in documented_commands()]
    assert any(line.startswith("vigil dead-letters replay") for line in lines)
    assert any(line.startswith("vigil rules rollback") for line in lines)
    assert check("vigil dead-letters replay --kind bad_json --dry-run") == []
    assert check("vigil dead-letters resend --kind bad_json") == [
        "vigil dead-letters has no command 'resend'"]
    assert check("vigil dead-letters replay --knid bad_json") == [
        "vigil dead-letters replay has no option --knid"]
