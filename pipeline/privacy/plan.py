"""What erasure changes in one Redis key, as data: :func:`plan_key` reads a key's type and value
(plain Python values, as :mod:`pipeline.privacy.keyspace` reads them) and returns a
:class:`Change`, or None when the key holds nothing of the subject. Pure: the eraser applies
the change, the tests read it.

The key's inventory entry says what erasure does to its family:

- ``delete`` / ``expire``: the subject's own records go whole (their events, their content,
  their samples, keys named by them); a record of someone else that mentions them (a message
  *to* them) is kept, rewritten (:func:`~pipeline.privacy.scrub.scrub`); a member or entry that
  names them is removed.
- ``pseudonymise``, for a family the retention policy keeps (``VIGIL_ERASURE_RETAINED``):
  the record stays, rewritten: their id becomes their pseudonym, their other identifiers and
  their texts ``[erased]``; a key named by them is renamed. A family the policy does not keep
  is treated as ``delete``.
- ``none`` / ``unlearn``: these hold nothing of a person by design (aggregates, pseudonymised
  training logs, which unlearning handles); a mention found anyway is rewritten.

>>> from pipeline.privacy.scrub import Subject
>>> ana = Subject("usr_1", "anon_x", events=frozenset({"e1"}))
>>> plan_key("vigil:f:user:usr_1:events", "zset", [("e1", 1.0)], ana).delete
True
>>> plan_key("vigil:f:device:d1:accounts", "zset", [("usr_1", 1.0), ("usr_2", 2.0)], ana).remove
('usr_1',)
>>> change = plan_key("vigil:subject_decisions:usr_1", "list", ['{"entity_id": "usr_1"}'], ana)
>>> change.rename_to, change.items
('vigil:subject_decisions:anon_x', ['{"entity_id":"anon_x"}'])
>>> plan_key("vigil:sample:e1", "hash", {"model": "m"}, ana).delete
True
>>> plan_key("vigil:ledger:processed", "zset", [("e1", 1.0)], ana) is None
True
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from pipeline.privacy.inventory import REDIS, Entry, entry_for_key
from pipeline.privacy.scrub import Subject, owned, scrub, scrub_text

#: Families whose records erasure keeps, pseudonymised, by default: what a decision was taken
#: on and who took it (a legal hold, an appeal, a confirmed-fraud retention rule need them).
DEFAULT_RETAINED: frozenset[str] = frozenset(e.family for e in REDIS if e.erasure == "pseudonymise")
_INDEXED = "the queue's indexes point at them (pseudonymised instead)"
_PROOF = "they are the proof of the erasure and what keeps the user's events out"
#: Families the policy must keep, and why.
REQUIRED_RETAINED: dict[str, str] = {
    "case": _INDEXED, "flag": _INDEXED, "decision": _INDEXED, "platform action": _INDEXED,
    "erased users": _PROOF, "erasures done": _PROOF}
CONSENT_FAMILY = "consent history"
#: The case search index: ``<kind>:<term> <case_id>`` members. Of a case about the subject,
#: every term but its case id goes (an e-mail, IP or device digest would find it again).
SEARCH_FAMILIES = frozenset({"search index", "search index by time"})


class PolicyInvalid(ValueError):
    """A retention policy that names an unknown family, or drops one that must be kept."""


def retained_families(dropped: Collection[str]) -> frozenset[str]:
    """The families erasure keeps pseudonymised: the default less ``dropped``.

    >>> "audit log" in retained_families({"audit log"}), "case" in retained_families(())
    (False, True)
    >>> retained_families({"case"})
    Traceback (most recent call last):
    ...
    pipeline.privacy.plan.PolicyInvalid: erasure cannot delete case records: the queue's indexes point at them (pseudonymised instead)
    """
    unknown = sorted(set(dropped) - DEFAULT_RETAINED)
    if unknown:
        raise PolicyInvalid(f"erasure keeps no family named {', '.join(unknown)}; the families "
                            f"it keeps: {', '.join(sorted(DEFAULT_RETAINED))}")
    required = sorted(set(dropped) & set(REQUIRED_RETAINED))
    if required:
        raise PolicyInvalid(f"erasure cannot delete {', '.join(required)} records: "
                            f"{REQUIRED_RETAINED[required[0]]}")
    return DEFAULT_RETAINED - frozenset(dropped)


@dataclass
class Change:
    """One key's erasure. Exactly what is set is done: ``delete`` the key; else ``rename_to``
    first, then the value's parts."""

    key: str
    family: str
    delete: bool = False
    rename_to: str | None = None
    string: str | None = None
    hset: dict[str, str] = field(default_factory=dict)
    hdel: tuple[str, ...] = ()
    #: set, sorted set: members out, members in (with their scores; None for a set).
    remove: tuple[str, ...] = ()
    add: dict[str, float | None] = field(default_factory=dict)
    #: list: the whole new list.
    items: list[str] | None = None
    #: stream: entries out; entries rewritten in place (id -> fields).
    xdel: tuple[str, ...] = ()
    rewrite: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """``deleted`` (the key), ``pseudonymised`` (kept, rewritten) or ``removed`` (the
        subject's members or entries taken out of a key of others)."""
        if self.delete:
            return "deleted"
        if self.remove or self.xdel or self.hdel and not self.hset:
            return "removed" if not (self.add or self.rewrite or self.rename_to) else "pseudonymised"
        return "pseudonymised"


def rule_of(entry: Entry | None, retained: Collection[str]) -> str:
    """``delete`` or ``keep`` (rewrite): what erasure does to a record of this family."""
    if entry is None:  # not in the inventory (its test fails first): rewrite, lose nothing
        return "keep"
    if entry.erasure in ("delete", "expire"):
        return "delete"
    if entry.erasure == "pseudonymise":
        return "keep" if entry.family in retained else "delete"
    return "keep"


def plan_key(key: str, kind: str, value: Any, subject: Subject,
             retained: Collection[str] = DEFAULT_RETAINED) -> Change | None:
    """The change erasure makes to ``key`` (``kind``: its Redis type; ``value``: str for a
    string, dict for a hash, list of members for a set, (member, score) pairs for a sorted
    set, list for a list, (id, fields) pairs for a stream), or None."""
    entry = entry_for_key(key)
    family = entry.family if entry else "(not in the inventory)"
    delete = rule_of(entry, retained) == "delete"
    change = Change(key, family)
    theirs = subject.names_key(key)
    if theirs:
        if delete or entry is not None and entry.erasure in ("none", "unlearn"):
            change.delete = True
            return change
        renamed = scrub_text(key, subject)  # a key named by their event keeps its name
        change.rename_to = renamed if renamed != key else None
        if family == CONSENT_FAMILY and kind == "zset" and value:
            value = value[-1:]  # the proof of what was recorded last is kept; the rest goes
    elif kind in ("string", "hash") and not subject.ties(_text_of(value)):
        return None  # one record that does not name them: someone else's, left alone
    if family in SEARCH_FAMILIES and kind == "zset":
        change.remove = tuple(m for m, _ in value if _indexes_their_case(m, subject))
        return change if change.remove else None
    _plan_value(change, kind, value, subject, delete, theirs)
    if change.rename_to is None and change == Change(key, family):
        return None
    return change


def _plan_value(change: Change, kind: str, value: Any, subject: Subject, delete: bool,
                theirs: bool) -> None:
    # Everything in a key of theirs is rewritten; a renamed key is copied whole.
    copy = change.rename_to is not None
    if kind == "string":
        if delete and owned(value, subject):
            change.delete = True
        elif copy or scrub(value, subject) != value:
            change.string = scrub(value, subject)
    elif kind == "hash":
        if delete and (owned(value, subject) or any(owned(v, subject) for v in value.values())):
            change.delete = True
            return
        for name, text in value.items():
            new_name, new_text = scrub_text(name, subject), scrub(text, subject)
            if new_name != name:
                change.hdel += (name,)
            if copy or (new_name, new_text) != (name, text):
                change.hset[new_name] = new_text
    elif kind in ("set", "zset"):
        for member, score in _items(kind, value):
            if not (theirs or subject.ties(member)):
                continue
            if delete and (_plain(member) or owned(member, subject) or subject.has_event(member)):
                change.remove += (member,)
            else:
                new = scrub(member, subject)
                if new != member:
                    change.remove += (member,)
                if new != member or copy:
                    change.add[new] = score
    elif kind == "list":
        items, changed = [], copy
        for item in value:
            if not (theirs or subject.ties(item)):
                items.append(item)
            elif delete and (_plain(item) or owned(item, subject) or subject.has_event(item)):
                changed = True
            else:
                items.append(scrub(item, subject))
                changed = True
        if changed:
            change.items = items
            if not items:
                change.delete, change.items = True, None
    elif kind == "stream":
        for entry_id, fields in value:
            if not (theirs or subject.ties(json.dumps(fields, ensure_ascii=False))):
                continue
            if delete:
                change.xdel += (entry_id,)
            else:
                new = {scrub_text(k, subject): scrub(v, subject) for k, v in fields.items()}
                if new != fields:
                    change.rewrite[entry_id] = new
    if copy and kind not in ("string", "hash", "set", "zset", "list"):
        change.delete = True  # a key named by the subject that cannot be copied: gone


def _indexes_their_case(member: str, subject: Subject) -> bool:
    term, _, case_id = member.rpartition(" ")
    return subject.ties(member) or case_id in subject.cases and not term.startswith("case:")


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if value is not None else ""


def _items(kind: str, value: Any) -> list[tuple[str, float | None]]:
    return [(m, s) for m, s in value] if kind == "zset" else [(m, None) for m in value]


def _plain(text: str) -> bool:
    return text[:1] not in ("{", "[")
