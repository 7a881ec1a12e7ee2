"""Reading a rule file's YAML safely: refused quickly, with a problem report, before it can cost.

A rule file is small, flat YAML written by an engineer. YAML itself is not: an anchor (``&a``)
and aliases (``*a``) let a kilobyte expand to billions of nodes ("billion laughs": PyYAML shares
the aliased objects, but everything that walks the result, such as validation, walks every
copy), and nesting thousands deep makes PyYAML's recursive composer raise ``RecursionError``.
Rule files need neither, so :func:`parse_rule_file` reads the event stream first (PyYAML's parser
is a state machine, not recursive, and the stream is read lazily) and refuses, at the first event
that breaks a limit, any anchor or alias, nesting deeper than :data:`MAX_NESTING`, and files
larger than :data:`MAX_FILE_CHARS`; only then is the text loaded.

>>> parse_rule_file("id: a.b\\nexamples: [{name: x}]")
{'id': 'a.b', 'examples': [{'name': 'x'}]}
>>> try:
...     parse_rule_file("a: [1]\\nb: &x [1]\\nc: *x")
... except RuleFileRefused as refused:
...     print(refused.field, "-", refused.message)
b - YAML anchors (&x) are not allowed in rule files: write the value out
"""

from __future__ import annotations

import re
from typing import Any

import yaml

#: The longest rule file read (the library's longest is under 5,000 characters).
MAX_FILE_CHARS = 64 * 1024
#: The deepest nesting of mappings and lists (a rule file needs 4: examples, an example, its
#: payload, a list in the payload).
MAX_NESTING = 12
#: What :func:`read_source` turns undecodable bytes into (``surrogateescape``), found again here.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


class RuleFileRefused(ValueError):
    """A rule file refused before loading; ``field`` says where (``(file)`` for the whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def read_source(path: Any) -> str:
    """The text of a rule file, read no further than one character past :data:`MAX_FILE_CHARS`
    (so a huge file costs no memory; :func:`parse_rule_file` refuses it), with bytes that are
    not UTF-8 kept as lone surrogates (refused there too, instead of a traceback here)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read(MAX_FILE_CHARS + 1)


def parse_rule_file(text: str) -> Any:
    """The YAML document in ``text``, or :class:`RuleFileRefused` (limits) or
    :class:`yaml.YAMLError` (not YAML)."""
    if len(text) > MAX_FILE_CHARS:
        raise RuleFileRefused("(file)", f"a rule file is at most {MAX_FILE_CHARS:,} characters; "
                                        "this one is longer")
    bad = _UNDECODABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise RuleFileRefused("(file)", f"not UTF-8 text (an undecodable byte on line {line})")
    _check_events(text)
    return yaml.safe_load(text)


#: libyaml's parser where PyYAML has it: 40x faster than the Python one for this scan.
_SCANNER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_events(text: str) -> None:
    try:
        _scan(text, _SCANNER)
    except yaml.YAMLError:
        # libyaml gives up on its own limits (nesting 1,000 deep) before streaming the events
        # ours stop at: PyYAML's parser reads lazily and finds those; if it too fails, the
        # text is not YAML, and yaml.safe_load says why in its usual words.
        try:
            _scan(text, yaml.SafeLoader)
        except yaml.YAMLError:
            pass


def _scan(text: str, loader: Any) -> None:
    path = _Path()
    for event in yaml.parse(text, Loader=loader):
        # The path first, so a problem names the item the event starts.
        if isinstance(event, yaml.CollectionStartEvent):
            path.open(isinstance(event, yaml.MappingStartEvent))
        elif isinstance(event, yaml.CollectionEndEvent):
            path.close()
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            path.scalar(getattr(event, "value", ""))
        if isinstance(event, yaml.AliasEvent):
            raise RuleFileRefused(path.here(), f"YAML aliases (*{event.anchor}) are not allowed "
                                               "in rule files: write the value out")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise RuleFileRefused(path.here(), f"YAML anchors (&{anchor}) are not allowed in "
                                               "rule files: write the value out")
        if path.depth > MAX_NESTING:
            raise RuleFileRefused(path.here(), f"nested more than {MAX_NESTING} levels deep; "
                                               "a rule file is much flatter")


class _Path:
    """Where in the document the event stream is, as a problem's field (``examples.2.payload``)."""

    def __init__(self) -> None:
        #: Per open collection: [is a mapping, expecting a key, the key (mapping) or index].
        self.stack: list[list[Any]] = []

    @property
    def depth(self) -> int:
        return len(self.stack)

    def here(self) -> str:
        keys = [str(key) for _, _, key in self.stack if key is not None and key != -1]
        return ".".join(keys) or "(file)"

    def open(self, mapping: bool) -> None:
        self._item_starts()
        self.stack.append([mapping, True, None if mapping else -1])

    def close(self) -> None:
        self.stack.pop()
        self._item_ends()

    def scalar(self, value: str) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top[0] and top[1]:
            top[1], top[2] = False, value  # a key: its value comes next
            return
        self._item_starts()
        self._item_ends()

    def _item_starts(self) -> None:
        if self.stack and not self.stack[-1][0]:
            self.stack[-1][2] += 1

    def _item_ends(self) -> None:
        if self.stack and self.stack[-1][0]:
            self.stack[-1][1] = True  # after a value, a mapping expects its next key
