"""One rule: a YAML file with metadata, a CEL condition, a reason template and its own examples.

Conditions are CEL (Common Expression Language) compiled once and evaluated as programs, never
Python ``eval``. A rule sees ``event`` (the envelope), ``payload`` (its payload) and
``features`` (see :mod:`detectors.features`). Regexes are declared under ``patterns`` and
evaluated by RE2 (linear time, no catastrophic backtracking) through two functions:
``re2("name", text)`` (does it match?) and ``re2_find("name", text)`` (the first match, or "").
``lower(text)`` lower-cases. The reason template fills ``{{ cel expression }}`` placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import cel
import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.cost import MAX_COMPREHENSION_DEPTH, MAX_SOURCE_CHARS
from detectors.regex import matcher
from detectors.results import Mode, Severity

RULE_ID = r"^[a-z_]+\.[a-z0-9_]+$"
LABEL = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Functions a condition may call; CEL's own ``matches`` is refused so every regex runs on RE2.
FORBIDDEN_FUNCTIONS = {"matches": "use re2(\"pattern_name\", text) so the regex runs on RE2"}


def parse_duration(text: str) -> int:
    """Seconds in a duration like ``90s``, ``10m``, ``1h`` or ``7d``.

    >>> parse_duration("10m")
    600
    """
    match = DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 10m, 1h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    expect: Literal["flag", "pass"]
    payload: dict[str, Any] = {}
    features: dict[str, Any] = {}


class RuleSpec(BaseModel):
    """The YAML schema of a rule file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID)
    version: int = Field(ge=1)
    owner: str = Field(min_length=1)
    description: str = Field(min_length=10)
    event_types: list[str] = Field(min_length=1)
    condition: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    severity: Severity
    score: float = Field(ge=0, le=1)
    reason: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    mode: Mode = "enforce"
    dedup_window: str = "1h"
    entity: Literal["default", "subject"] = "default"
    patterns: dict[str, str] = {}
    #: Abuse categories the rule targets (the simulator's scenario names), so a backtest
    #: against labelled traffic can say what share of those it catches.
    labels: list[str] = []
    examples: list[Example] = Field(min_length=2)

    @field_validator("mode", mode="before")
    @classmethod
    def _unquoted_off(cls, value: object) -> object:
        # YAML 1.1 (PyYAML) reads an unquoted ``mode: off`` as the boolean false.
        return "off" if value is False else value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        for label in value:
            if not LABEL.match(label):
                raise ValueError(f"label {label!r} must be a lower-case snake_case category name")
        if len(set(value)) != len(value):
            raise ValueError("labels must not repeat")
        return value

    @field_validator("dedup_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


@dataclass(frozen=True)
class CompiledRule:
    spec: RuleSpec
    program: Any  # cel.Program
    patterns: dict[str, Any]  # name -> compiled re2 pattern
    reason_parts: tuple[str | Any, ...]  # literal text or a cel.Program
    dedup_seconds: int

    @cached_property
    def matchers(self) -> dict[str, Callable[[str], bool]]:
        """name -> whether that pattern matches anywhere in a text (``re2()`` in conditions)."""
        return {name: matcher(pattern) for name, pattern in self.patterns.items()}

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> str:
        return str(self.spec.version)

    @cached_property
    def condition_reads(self) -> Reads:
        """What its condition reads of each variable (see :func:`program_reads`)."""
        return program_reads(self.program)

    @cached_property
    def reason_reads(self) -> Reads:
        """What its reason template's placeholders read of each variable."""
        return merge_reads(program_reads(p) for p in self.reason_parts if not isinstance(p, str))


def compile_rule(spec: RuleSpec) -> tuple[CompiledRule | None, list[tuple[str, str]]]:
    """Compile a validated spec; return ``(rule, [])`` or ``(None, [(field, message), ...])``."""
    problems: list[tuple[str, str]] = []
    patterns: dict[str, Any] = {}
    for name, source in spec.patterns.items():
        try:
            patterns[name] = re2.compile(source)
        except re2.error as exc:
            problems.append((f"patterns.{name}", f"not a valid RE2 regex: {exc}"))
    program = None
    try:
        program = cel.compile(spec.condition)
    except ValueError as exc:
        problems.append(("condition", f"CEL syntax error: {exc}"))
    if program is not None:
        problems += _check_references(program, "condition", patterns)
        problems += _check_depth(program, "condition")
    reason_parts: list[str | Any] = []
    for i, piece in enumerate(_PLACEHOLDER.split(spec.reason)):
        if i % 2 == 0:
            reason_parts.append(piece)
            continue
        try:
            part = cel.compile(piece.strip())
        except ValueError as exc:
            problems.append(("reason", f"placeholder {{{{{piece}}}}} is not valid CEL: {exc}"))
            continue
        problems += _check_references(part, "reason", patterns)
        problems += _check_depth(part, "reason")
        reason_parts.append(part)
    if problems:
        return None, problems
    return CompiledRule(spec, program, patterns, tuple(reason_parts),
                        parse_duration(spec.dedup_window)), []


_VARIABLES = {"event", "payload", "features"}
_COMPREHENSION = re.compile(r"\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")


def _check_references(program: Any, where: str, patterns: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for name, advice in FORBIDDEN_FUNCTIONS.items():
        if name in program.functions():
            problems.append((where, f"{name}() is not allowed: {advice}"))
    bound = set(_COMPREHENSION.findall(program.source))
    for variable in set(program.variables()) - _VARIABLES - bound:
        problems.append((where, f"unknown variable {variable!r}; rules see event, payload and features"))
    for name in re.findall(r"re2(?:_find)?\(\s*[\"']([^\"']+)[\"']", program.source):
        if name not in patterns:
            problems.append((where, f"re2 pattern {name!r} is not declared under patterns"))
    return problems


def _check_depth(program: Any, where: str) -> list[tuple[str, str]]:
    depth = comprehension_depth(program.source)
    if depth <= MAX_COMPREHENSION_DEPTH:
        return []
    return [(where, f"comprehensions (all, exists, exists_one, map, filter) nest {depth} deep; "
                    f"at most {MAX_COMPREHENSION_DEPTH} may nest, since each level multiplies the "
                    "cost by the length of a list (CEL cannot be interrupted once it runs)")]


_MACRO_CALL = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\Z")


def comprehension_depth(source: str) -> int:
    """How deep comprehension macros nest in a CEL source (strings and comments ignored):
    each level iterates its list once per iteration of the level around it.

    >>> comprehension_depth('payload.skills.exists(s, s == "x") && [1].all(n, n > 0)')
    1
    >>> comprehension_depth('payload.skills.all(a, payload.skills.all(b, a != b))')
    2
    >>> comprehension_depth('"x.all(a, y.all(b, z.all(c, 1)))" == payload.text // .all(')
    0
    """
    code = code_only(source)
    depth = deepest = 0
    opened: list[bool] = []  # per open parenthesis: whether it is a macro's
    for i, char in enumerate(code):
        if char == "(":
            macro = _MACRO_CALL.search(code, max(0, i - 32), i) is not None
            opened.append(macro)
            depth += macro
            deepest = max(deepest, depth)
        elif char == ")" and opened:
            depth -= opened.pop()
    return deepest


def code_only(source: str) -> str:
    """``source`` with string literals and ``//`` comments blanked (same length, so positions
    hold)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char in "\"'" or (char in "rRbB" and _string_prefix(source, i)):
            end = _string_end(source, i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


# ---- what a rule reads -----------------------------------------------------------------------

#: Per rule variable read: the fields read (``payload.text`` reads ``text``), or None when the
#: variable is used whole.
Reads = Mapping[str, frozenset[str] | None]

_MENTION = re.compile(r"(?<!\w)(event|payload|features)(?!\w)")
#: ``.field`` right after a mention; a name followed by ``(`` is a method or macro on the
#: variable itself (``payload.exists(...)``), which needs all of it.
_FIELD_AFTER = re.compile(r"\s*\.\s*([A-Za-z_]\w*)(?!\w)(?!\s*\()")
#: ``x.payload`` on one line: a field of something else, not the variable (a dot at the end of
#: a ``//`` comment is on the line before, so a mention after it still counts).
_FIELD_OF_SOMETHING = re.compile(r"[\w)\]}\"'][ \t]*\.[ \t]*\Z")


def program_reads(program: Any) -> dict[str, frozenset[str] | None]:
    """Which fields of ``event``, ``payload`` and ``features`` a compiled CEL program reads.

    Only a plain field select (``payload.text``, ``has(payload.text)``) counts as reading
    one field. Any other use of a variable (bare, indexed, ``in``, iterated, bound by a macro,
    a method's receiver, even inside a string) reads it whole (None), so the conclusion errs
    towards converting too much, never too little.

    >>> program_reads(cel.compile('has(payload.x) && features.n > 1 && payload["y"] == 2'))
    {'features': frozenset({'n'}), 'payload': None}
    >>> program_reads(cel.compile('event.payload.text == "a" && size(features) > 0'))
    {'event': frozenset({'payload'}), 'features': None}
    """
    source = program.source
    names = sorted(set(program.variables()) & _VARIABLES)
    fields: dict[str, set[str] | None] = {name: set() for name in names}
    for mention in _MENTION.finditer(source):
        name = mention.group(1)
        if name not in fields or _FIELD_OF_SOMETHING.search(source, 0, mention.start()):
            continue
        selected = _FIELD_AFTER.match(source, mention.end())
        seen = fields[name]
        if selected is None or seen is None:
            fields[name] = None
        else:
            seen.add(selected.group(1))
    # A variable the source never names plainly (not expected) is given whole, to be safe.
    return {name: frozenset(f) if f else None for name, f in fields.items()}


def merge_reads(reads: Iterable[Reads]) -> dict[str, frozenset[str] | None]:
    """Everything any of several programs reads: fields add up; whole wins over fields.

    >>> merged = merge_reads([{"payload": frozenset({"a"}), "event": frozenset({"b"})},
    ...                       {"payload": frozenset({"c"}), "event": None}])
    >>> sorted(merged["payload"]), merged["event"]
    (['a', 'c'], None)
    """
    out: dict[str, frozenset[str] | None] = {}
    for one in reads:
        for name, fields in one.items():
            if name not in out:
                out[name] = fields
            elif out[name] is not None:
                out[name] = None if fields is None else out[name] | fields
    return out


# ---- flat variables: what a rule reads, converted as scalars ---------------------------------

#: Converting a map into CEL costs ~1.3 us plus ~0.5 us an entry; a scalar ~0.07 us. Rules that
#: read ``event``, ``payload`` and ``features`` only field by field can read each field as a
#: variable of its own instead: :func:`flat_source` rewrites ``payload.text`` to ``_v_payload__text``.
_FLAT_PREFIX = "_v_"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SELECTED = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_])(?!\s*\()")


def flat_name(variable: str, field: str) -> str:
    return f"{_FLAT_PREFIX}{variable}__{field}"


def flat_source(source: str) -> str | None:
    """``source`` with every ``payload.x``, ``features.x`` and ``event.x`` read as the variable
    ``flat_name(variable, x)``; None where that would not mean the same: a variable used other
    than by a plain field select (bare, indexed, a method's receiver, after a dot, in ``has()``,
    bound by a macro), or a source already naming ``_v_`` variables. String literals and
    comments are left as they are.

    >>> flat_source('!payload.has_active_contract && re2("p", payload.text) // payload.x')
    '!_v_payload__has_active_contract && re2("p", _v_payload__text) // payload.x'
    >>> flat_source('features.n > 1 && "features.n" != r"payload.y" && event.type.startsWith("a")')
    '_v_features__n > 1 && "features.n" != r"payload.y" && _v_event__type.startsWith("a")'
    >>> [flat_source(s) for s in ('has(payload.x)', 'payload["x"] == 1', 'size(features) > 0',
    ...                           'payload.exists(k, k == "a")', 'a.payload.x', '_v_payload__x')]
    [None, None, None, None, None, None]
    """
    if _FLAT_PREFIX in source:
        return None
    out: list[str] = []
    i, n, previous = 0, len(source), ""
    while i < n:
        char = source[i]
        if char in "\"'" or (char in "rRbB" and _string_prefix(source, i)):
            end = _string_end(source, i)
            if end < 0:
                return None
            out.append(source[i:end])
            i, previous = end, '"'
        elif source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(source[i:end])
            i = end
        elif char.isalpha() or char == "_":
            name = _IDENT.match(source, i).group()  # type: ignore[union-attr]
            end = i + len(name)
            if name in _VARIABLES:
                selected = _SELECTED.match(source, end)
                if previous == "." or selected is None or _inside_has(out):
                    return None
                out.append(flat_name(name, selected.group(1)))
                i, previous = selected.end(), "x"
                continue
            out.append(name)
            i, previous = end, name[-1]
        else:
            out.append(char)
            if not char.isspace():
                previous = char
            i += 1
    return "".join(out)


def _string_prefix(source: str, i: int) -> bool:
    """Whether ``source[i:]`` starts a prefixed string literal (``r"..."``, ``b'...'``, ``rb"..."``)."""
    j = i
    while j < len(source) and j - i < 2 and source[j] in "rRbB":
        j += 1
    return j < len(source) and source[j] in "\"'" and (i == 0 or not (
        source[i - 1].isalnum() or source[i - 1] == "_"))


def _string_end(source: str, i: int) -> int:
    """The index just after the string literal starting at ``i`` (prefix included); -1 if it
    does not end."""
    j = i
    while source[j] in "rRbB":
        j += 1
    raw = "r" in source[i:j].lower()
    quote = next(q for q in ('"""', "'''", '"', "'") if source.startswith(q, j))
    j += len(quote)
    while j < len(source):
        if not raw and source[j] == "\\":
            j += 2
            continue
        if source.startswith(quote, j):
            return j + len(quote)
        if len(quote) == 1 and source[j] == "\n":
            return -1
        j += 1
    return -1


def _inside_has(out: list[str]) -> bool:
    """Whether the text so far ends in ``has(`` (the macro needs a select, not a variable)."""
    return re.search(r"(?<![A-Za-z0-9_])has\s*\(\s*\Z", "".join(out[-8:])) is not None
