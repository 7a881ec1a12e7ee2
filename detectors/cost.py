"""What a rule may cost per evaluation, checked before a set is accepted and watched at run time.

How CEL runs here, and why the budget is enforced before deploy rather than during evaluation:
the ``cel`` package (common-expression-language 0.10, PyO3 bindings over the Rust ``cel``
interpreter) evaluates a compiled program in ``Program.execute`` without releasing the GIL (the
bindings never detach from the interpreter; measured: a thread ticking every 10 ms got no tick
during a 2.8 s evaluation) and has no cost limit, step counter, deadline or cancellation. Python
signals are only looked at when the interpreter calls back into Python (our ``re2()``,
``re2_find()`` and ``lower()``); an exception raised there becomes a function error of that call,
not an interruption. So once ``execute`` starts, nothing in the process can stop it, and running
it in another thread does not help the event loop: it holds the GIL throughout. Comprehension
macros (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) are CEL's only loops; nesting
them multiplies the iterations (three levels over a 50-skill list: 125,000; four: 6 million,
seconds). Everything else in CEL is linear in the size of its inputs and of the expression.

Hence, before a rule set is accepted (``vigil rules validate``, ``test``, ``deploy``, and every
worker's load of a deployed set, which runs the same :func:`detectors.ruleset.load_rules`):

- statically, comprehensions may nest at most :data:`MAX_COMPREHENSION_DEPTH` deep and a
  condition or reason is at most :data:`MAX_SOURCE_CHARS` long (which bounds list literals);
- each rule is measured on its own examples and on worst-case events built from the contracts'
  limits (:func:`worst_case_payloads`: the longest strings and lists ``schemas/events.py``
  allows for the fields it reads), sizes doubling step by step so that no single measurement
  holds the GIL for much more than the limit, and refused when an evaluation costs more than
  :data:`RULE_BUDGET_SECONDS` / :data:`DEPLOY_MARGIN`.

At run time every event's rules are timed together by the wall clock (two reads an event,
~0.1 us); each rule's CPU time is taken on one event in :data:`SAMPLE_EVERY`, and on an event
whose total is over the budget (at most every :data:`ATTRIBUTE_EVERY` seconds per event type).
A rule over budget in CPU time is counted and logged by :class:`CostWatch` (and exported as
``vigil_rule_over_budget_total`` by the worker).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from schemas.events import EVENT_MODELS

log = logging.getLogger("vigil.rules.cost")

#: What one rule's evaluation (condition, and reason when it fires) may take at run time.
RULE_BUDGET_SECONDS = 0.005
#: Before deploy a rule must fit this many times into the budget (a loaded or slower machine):
#: 2 ms. The library's dearest, two RE2 scans of a 20,000-character message, takes ~0.6 ms.
DEPLOY_MARGIN = 2.5
#: Comprehension macros nest at most this deep (each level multiplies the iterations).
MAX_COMPREHENSION_DEPTH = 2
#: The longest condition or reason template (the library's longest condition has 841).
MAX_SOURCE_CHARS = 2000
#: At run time one event in this many has each rule timed on its own.
SAMPLE_EVERY = 128
#: When an event's rules together take longer than the budget, each rule is timed on that
#: event again to find which, at most this often per event type (seconds).
ATTRIBUTE_EVERY = 1.0


def deploy_limit() -> float:
    """The most a rule may cost per evaluation before deploy (seconds)."""
    return RULE_BUDGET_SECONDS / DEPLOY_MARGIN


# ---- worst-case events -------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """A payload field whose size a contract bounds: a free-text string or a list."""

    name: str
    kind: str  # "text" or "list"
    max_length: int | None
    #: A list's item maker (index -> a valid item), None for text.
    item: Callable[[int], Any] | None = None


def _constraints(metadata: Any) -> Iterator[Any]:
    """Each constraint object in a field's metadata (a ``Field()`` inside ``Annotated`` holds
    its own)."""
    for entry in metadata:
        yield entry
        yield from getattr(entry, "metadata", ())


def _max_length(metadata: Any) -> int | None:
    for entry in _constraints(metadata):
        value = getattr(entry, "max_length", None)
        if value is not None:
            return int(value)
    return None


def _has_pattern(metadata: Any) -> bool:
    return any(getattr(entry, "pattern", None) for entry in _constraints(metadata))


def _item_maker(annotation: Any) -> Callable[[int], Any]:
    args = get_args(annotation)
    inner = args[0] if args else str
    base = get_args(inner)[0] if get_args(inner) else inner
    if base is uuid.UUID:
        return lambda i: str(uuid.UUID(int=i + 1))
    limit = _max_length(getattr(inner, "__metadata__", ())) or 16
    return lambda i: f"item {i} " + "x" * max(0, limit - len(f"item {i} "))


def bounds(payload_model: type[Any]) -> list[Bound]:
    """The free-text strings (no pattern: ids, e-mails and codes are short by their pattern)
    and the lists of a payload model, with the longest each may be (None: unbounded)."""
    out = []
    for name, field in payload_model.model_fields.items():
        annotation = field.annotation
        if annotation is str and not _has_pattern(field.metadata):
            out.append(Bound(name, "text", _max_length(field.metadata)))
        elif get_origin(annotation) is list:
            out.append(Bound(name, "list", _max_length(field.metadata), _item_maker(annotation)))
    return out


def unbounded(payload_model: type[Any]) -> list[str]:
    """The payload fields whose length no contract bounds: a rule reading one has no
    worst case, so its cost cannot be bounded (every event contract must have none)."""
    return [b.name for b in bounds(payload_model) if b.max_length is None]


def worst_case_payloads(event_type: str, payload: Mapping[str, Any],
                        reads: frozenset[str] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``payload`` with the fields in ``reads`` (None: all) grown step by step to the longest
    their contract allows: lists to 1, 2, 4 ... items and texts to 64, 128, 256 ...
    characters (the example's own text repeated), the last step everything at its maximum.
    Yields (a description, the payload); nothing if the rule reads no such field."""
    model = EVENT_MODELS[event_type].PAYLOAD_MODEL
    grow = [b for b in bounds(model) if b.max_length is not None
            and (reads is None or b.name in reads)]
    if not grow:
        return
    step = 0
    while True:
        scale = 2 ** step
        out, parts, done = dict(payload), [], True
        for bound in grow:
            assert bound.max_length is not None
            if bound.kind == "list":
                size = min(bound.max_length, scale)
                seed = list(payload.get(bound.name) or [])
                out[bound.name] = ([seed[i % len(seed)] for i in range(size)] if seed
                                   else [bound.item(i) for i in range(size)])  # type: ignore[misc]
                parts.append(f"{bound.name}: {size} items")
            else:
                size = min(bound.max_length, 64 * scale)
                seed = str(payload.get(bound.name) or "") or "lorem ipsum "
                out[bound.name] = (seed * (size // len(seed) + 1))[:size]
                parts.append(f"{bound.name}: {size:,} chars")
            done = done and size == bound.max_length
        yield f"a worst-case {event_type} ({', '.join(parts)})", out
        if done:
            return
        step += 1


# ---- measuring ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """The dearest evaluation measured of a rule, and on what."""

    seconds: float
    case: str

    @property
    def over(self) -> bool:
        return self.seconds > deploy_limit()

    def problem(self) -> str:
        return (f"one evaluation costs {self.seconds * 1e3:.2f} ms on {self.case}; the budget "
                f"is {deploy_limit() * 1e3:g} ms per evaluation before deploy "
                f"({RULE_BUDGET_SECONDS * 1e3:g} ms at run time, with a {DEPLOY_MARGIN:g}x "
                "margin): simplify the condition (fewer or flatter comprehensions)")


def timed(run: Callable[[], Any], repeat: int = 3) -> float:
    """CPU seconds one call of ``run`` takes in this thread: once, and if that is over the
    deploy limit the best of ``repeat`` (a busy machine must not refuse a cheap rule)."""
    started = time.thread_time()
    run()
    best = time.thread_time() - started
    for _ in range(repeat - 1 if best > deploy_limit() else 0):
        started = time.thread_time()
        run()
        best = min(best, time.thread_time() - started)
    return best


def dearest(cases: Iterator[tuple[str, Callable[[], Any]]]) -> Cost:
    """The dearest of ``cases`` (description, a call evaluating it), stopping at the first over
    the limit: cases come cheapest first, each at most a few times dearer than the one before,
    so no measurement holds the interpreter for much longer than the limit."""
    worst = Cost(0.0, "no event")
    for case, run in cases:
        seconds = timed(run)
        if seconds > worst.seconds:
            worst = Cost(seconds, case)
        if worst.over:
            break
    return worst


# ---- run time ----------------------------------------------------------------------------


class CostWatch:
    """Over-budget rule evaluations seen at run time: counted per rule, logged (the first,
    then at each power of two) and handed to ``listener`` (the worker's Prometheus counter).

    >>> watch = CostWatch(budget=0.001)
    >>> seen = []
    >>> watch.listener = lambda rule_id, seconds: seen.append(rule_id)
    >>> watch.over("message.slow", 0.004, "message.sent")
    >>> watch.counts["message.slow"], seen
    (1, ['message.slow'])
    """

    def __init__(self, budget: float = RULE_BUDGET_SECONDS) -> None:
        self.budget = budget
        self.counts: dict[str, int] = {}
        self.slowest: dict[str, float] = {}
        self.events_over: dict[str, int] = {}
        self.listener: Callable[[str, float], None] | None = None
        self._lock = threading.Lock()

    def over(self, rule_id: str, seconds: float, event_type: str) -> None:
        with self._lock:
            count = self.counts[rule_id] = self.counts.get(rule_id, 0) + 1
            self.slowest[rule_id] = max(seconds, self.slowest.get(rule_id, 0.0))
        if count & (count - 1) == 0:
            log.warning("rule %s took %.2f ms on a %s event, over its %.2f ms budget "
                        "(%d time(s) so far)", rule_id, seconds * 1e3, event_type,
                        self.budget * 1e3, count)
        listener = self.listener
        if listener is not None:
            try:
                listener(rule_id, seconds)
            except Exception:  # noqa: BLE001 - a broken exporter must not stop detection
                log.exception("cost listener failed")

    def event_over(self, event_type: str, seconds: float) -> None:
        """An event's rules took longer than one rule's budget together, by the wall clock
        (each rule's CPU time is then taken on it, at most every :data:`ATTRIBUTE_EVERY`
        seconds: a busy machine that descheduled the worker is not a dear rule)."""
        with self._lock:
            count = self.events_over[event_type] = self.events_over.get(event_type, 0) + 1
        if count & (count - 1) == 0:
            log.debug("the rules of a %s event took %.2f ms together by the wall clock "
                      "(%d time(s) so far)", event_type, seconds * 1e3, count)


#: The watch every rule set's evaluations report to.
WATCH = CostWatch()
