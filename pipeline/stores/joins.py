"""Joins that wait and counters counted late, held in Redis (workers) or memory (replay).

:func:`detectors.ordering.waits` says, per event, which join books it waits in (:class:`Hold`),
arrives at (:class:`Arrive`) or is counted in (:class:`Watch`). This module carries that out in
the state script (:mod:`pipeline.stores.features`), inside the event's digest-checked span, so
a held event survives a worker's kill and a redelivery holds or releases nothing twice:

* ``J`` holds the event (its canonical JSON stashed under its id) unless the partner's record
  is there already (it replies so, and the worker sends no ``J`` for that record again:
  :class:`Present`);
* ``V`` returns the stashed events held for the arriving partner, to be decided again; they
  stay held until the re-decision is written (:func:`queue_release`), so a worker killed
  before that writing leaves them for the redelivered partner to release again. Written,
  they leave the window (no deadline ends them) but stay in their book until the stash
  expires: a worker killed after the writing and before the flags' publishing leaves them
  for the redelivered partner too, whose re-decision publishes the flags again;
* ``W`` counts the event in its entity's book, and returns the events already there dated in
  ``[at, at + window)``: their counts just grew, so they are decided again (a re-decision's
  own ``W`` releases nothing, so re-decisions do not cascade);
* ``M`` raises a topic-partition's watermark (the latest ``occurred_at`` seen on it);
* ``X``, once per batch, lets go the entries whose window ended: a topic's low watermark (the
  least of its partitions') passed their deadline, so no partner dated before them can still
  come but too late. It then trims the books to ``max_held`` (oldest first) and replies the
  counts and every input topic's low watermark (the lateness of later events).

:class:`MemoryJoins` is the same in process memory (one partition per topic: a file's order).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from detectors.ordering import Arrive, Hold, Wait, Watch
from schemas.events import Envelope
from schemas.topics import TOPIC_BY_TYPE

PREFIX = "vigil:j:"
STASH = PREFIX + "event:"
#: Partner topics, whose low watermark ends the holds waiting for them.
PARTNER_TOPICS = tuple(sorted({TOPIC_BY_TYPE[t] for t in ("user.signed_up", "job_post.created")}))

#: The ops of the state script (spliced into :data:`pipeline.stores.features.BATCH_SCRIPT`'s
#: dispatch; ``stash_prefix`` and ``stash_ttl`` come from its header).
LUA_OPS = """
  elseif op == 'J' then
    if redis.call('EXISTS', ARGV[i + 4]) == 1 then
      out[#out + 1] = 2
    elseif redis.call('ZSCORE', key, ARGV[i + 2]) then
      out[#out + 1] = 0
    else
      redis.call('ZADD', key, ARGV[i + 3], ARGV[i + 2])
      redis.call('EXPIRE', key, stash_ttl)
      redis.call('ZADD', ARGV[i + 5], ARGV[i + 7], ARGV[i + 6])
      redis.call('SET', stash_prefix .. ARGV[i + 2], ARGV[i + 8], 'EX', stash_ttl)
      out[#out + 1] = 1
    end
    i = i + 9
  elseif op == 'V' then
    local raws = {}
    for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
      local raw = redis.call('GET', stash_prefix .. id)
      if raw then raws[#raws + 1] = raw end
    end
    out[#out + 1] = cjson.encode(raws)
    i = i + 2
  elseif op == 'W' then
    local id, at = ARGV[i + 2], tonumber(ARGV[i + 3])
    local raws = {}
    if ARGV[i + 8] ~= '1' then
      local until_ = string.format('(%.17g', at + tonumber(ARGV[i + 4]))
      for _, other in ipairs(redis.call('ZRANGEBYSCORE', key, ARGV[i + 3], until_)) do
        if other ~= id then
          local raw = redis.call('GET', stash_prefix .. other)
          if raw then raws[#raws + 1] = raw end
        end
      end
    end
    if not redis.call('ZSCORE', key, id) then
      redis.call('ZADD', key, at, id)
      redis.call('EXPIRE', key, stash_ttl)
      redis.call('ZADD', ARGV[i + 5], ARGV[i + 7], ARGV[i + 6])
      redis.call('SET', stash_prefix .. id, ARGV[i + 9], 'EX', stash_ttl)
    end
    out[#out + 1] = cjson.encode(raws)
    i = i + 10
  elseif op == 'M' then
    local seen = tonumber(redis.call('HGET', key, ARGV[i + 2]))
    if not seen or seen < tonumber(ARGV[i + 3]) then redis.call('HSET', key, ARGV[i + 2], ARGV[i + 3]) end
    i = i + 4
  elseif op == 'X' then
    local n, max_held = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
    local reply, held_keys, ended, watched, full = {}, {}, 0, 0, 0
    local function let_go(member)
      local entry = cjson.decode(member)
      redis.call('ZREM', entry[2], entry[3])
    end
    for t = 0, n - 1 do
      local wm, held, parts = ARGV[i + 3 + 3 * t], ARGV[i + 4 + 3 * t], tonumber(ARGV[i + 5 + 3 * t])
      local low = nil
      if redis.call('HLEN', wm) >= parts then
        for _, v in ipairs(redis.call('HVALS', wm)) do
          v = tonumber(v)
          if not low or v < low then low = v end
        end
      end
      reply[#reply + 1] = low and string.format('%.17g', low) or ''
      if held ~= '' then
        held_keys[#held_keys + 1] = held
        if low then
          for _, member in ipairs(redis.call('ZRANGEBYSCORE', held, '-inf', string.format('(%.17g', low))) do
            local entry = cjson.decode(member)
            -- A hold whose partner came is left to its re-decision's write to release.
            if entry[1] ~= 'H' or redis.call('EXISTS', entry[4]) == 0 then
              redis.call('ZREM', entry[2], entry[3])
              redis.call('ZREM', held, member)
              if entry[1] == 'H' then ended = ended + 1 else watched = watched + 1 end
            end
          end
        end
      end
    end
    local total = 0
    for _, held in ipairs(held_keys) do total = total + redis.call('ZCARD', held) end
    while total > max_held do
      local oldest, score = nil, nil
      for _, held in ipairs(held_keys) do
        local first = redis.call('ZRANGE', held, 0, 0, 'WITHSCORES')
        if first[2] and (not score or tonumber(first[2]) < score) then oldest, score = held, tonumber(first[2]) end
      end
      local popped = redis.call('ZPOPMIN', oldest)
      let_go(popped[1])
      total = total - 1
      full = full + 1
    end
    out[#out + 1] = {ended, watched, full, reply}
    i = i + 3 + 3 * n
"""


def held_key(topic: str) -> str:
    return f"{PREFIX}held:{topic}"


def watermark_key(topic: str) -> str:
    return f"{PREFIX}wm:{topic}"


def book_key(book: str) -> str:
    return f"{PREFIX}book:{book}"


@dataclass(frozen=True)
class JoinSettings:
    """The join window (event seconds a held event waits past its partner topic's low
    watermark), the most entries held at once, and the allowed lateness of an event."""

    window: float = 3600.0
    max_held: int = 100_000
    allowed_lateness: float = 3600.0


@dataclass(frozen=True)
class Released:
    """An event decided again: why (``partner_arrived`` in ``book``, or ``counted_late``
    there), and for a hold, the entry its re-decision's write releases."""

    raw: bytes
    book: str
    reason: str
    hold: tuple[str, str, str] | None = None  # (book key, held key, member)


@dataclass
class BatchJoins:
    """What the state script said about a batch's joins: per event, its releases; the
    entries let go at window end or because the books were full; low watermarks."""

    released: list[list[Released]] = field(default_factory=list)
    held: int = 0
    ended: int = 0
    watched_ended: int = 0
    full: int = 0
    low_watermarks: dict[str, float] = field(default_factory=dict)


class BoundedSet:
    """A set of ids kept up to ``limit`` (then forgotten all at once: a cache, never truth)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit, self.ids = limit, set[str]()

    def add(self, ids: Any) -> None:
        if len(self.ids) >= self.limit:
            self.ids.clear()
        self.ids.update(ids)

    def __contains__(self, item: str) -> bool:
        return item in self.ids


class Present(BoundedSet):
    """Partners' records the state script found there (they are kept for a year): a later
    event waiting for one of them is decided with it at once, so the worker sends no ``J``
    (nor the event's JSON) for it."""

    def needed(self, waits: Sequence[Wait]) -> list[Wait]:
        """``waits`` without the holds whose partner is known to be there."""
        ids = self.ids
        return [w for w in waits if type(w) is not Hold or w.record not in ids]


def stash(event: Envelope) -> str:
    """The event's canonical JSON (what its digest is of): what a re-decision decodes."""
    return event.__pydantic_serializer__.to_json(event).decode()


def _member(kind: str, book: str, event_id: str, record: str = "") -> str:
    return orjson.dumps([kind, book_key(book), event_id, record]).decode()


def queue_waits(args: list[Any], event: Envelope, waits: Sequence[Wait], settings: JoinSettings,
                *, redo: bool, records: str) -> list[tuple[str, Wait]]:
    """Append the event's join ops to the state script's ``args`` (``records``: the feature
    store's key prefix); returns how to read them."""
    readers: list[tuple[str, Wait]] = []
    at = event.occurred_at.timestamp()
    raw: str | None = None
    for wait in waits:
        if type(wait) is Hold:
            raw = raw or stash(event)
            record = records + wait.record
            member = _member("H", wait.book, event.id, record)
            args += ["J", book_key(wait.book), event.id, at, record,
                     held_key(TOPIC_BY_TYPE[wait.partner]), member, at + settings.window, raw]
            readers.append(("J", wait))
        elif type(wait) is Arrive:
            args += ["V", book_key(wait.book)]
            readers.append(("V", wait))
        elif type(wait) is Watch:
            raw = raw or stash(event)
            args += ["W", book_key(wait.book), event.id, at, wait.window,
                     held_key(TOPIC_BY_TYPE[wait.partner]), _member("W", wait.book, event.id),
                     at + wait.window + settings.window, "1" if redo else "0", raw]
            readers.append(("W", wait))
    return readers


def queue_watermarks(args: list[Any], positions: dict[tuple[str, int], float]) -> None:
    for (topic, partition), at in positions.items():
        args += ["M", watermark_key(topic), partition, at]


def queue_expiry(args: list[Any], partitions: dict[str, int], settings: JoinSettings) -> None:
    """The ``X`` op over every input topic (``partitions``: how many each has)."""
    args += ["X", len(partitions), settings.max_held]
    for topic, count in partitions.items():
        args += [watermark_key(topic), held_key(topic) if topic in PARTNER_TOPICS else "", count]


def parse_event(readers: list[tuple[str, Wait]], replies: list[Any], event: Envelope,
                into: BatchJoins, *, records: str, present: Present | None = None,
                ) -> list[Released]:
    """The releases of one event's join replies (counting its new holds into ``into``, and
    the partners' records found there into ``present``)."""
    out: list[Released] = []
    for (kind, wait), reply in zip(readers, replies):
        if kind == "J":
            into.held += reply == 1
            if reply == 2 and present is not None:
                present.add((wait.record,))  # type: ignore[union-attr]
            continue
        for raw in orjson.loads(reply) or ():
            raw_bytes = raw.encode()
            if kind == "V":
                held_id = orjson.loads(raw_bytes)["event_id"]
                hold = (book_key(wait.book), held_key(TOPIC_BY_TYPE[event.type]),
                        _member("H", wait.book, held_id, records + wait.record))
                out.append(Released(raw_bytes, wait.book, "partner_arrived", hold))
            else:
                out.append(Released(raw_bytes, wait.book, "counted_late"))
    return out


def parse_expiry(reply: list[Any], topics: Sequence[str], into: BatchJoins) -> None:
    ended, watched, full, lows = reply
    into.ended, into.watched_ended, into.full = int(ended), int(watched), int(full)
    into.low_watermarks = {t: float(v) for t, v in zip(topics, lows) if v != ""}


def queue_release(pipe: Any, releases: Sequence[tuple[str, str, str]]) -> None:
    """After a re-decision is written: its holds are matched, and leave the window (no
    deadline lets them go, no bound trims them). They stay in their books, for a redelivered
    partner to release again (the book and the stash expire with the stash's TTL)."""
    for _, held, member in releases:
        pipe.zrem(held, member)


def partition_of(key: str, partitions: int) -> int:
    """The partition the publisher sends a subject's events to (librdkafka's default
    partitioner: CRC-32 of the key)."""
    return zlib.crc32(key.encode()) % partitions if partitions > 1 else 0


class MemoryJoins:
    """The script's join ops in process memory, for ``vigil replay`` and backtests (the
    records the holds wait for are the memory feature store's). A file is read as the
    worker reads ``partitions`` partitions per topic: watermarks per topic-partition, each
    event on its subject's."""

    def __init__(self, settings: JoinSettings, records: dict[str, Any], *,
                 partitions: int = 1) -> None:
        self.settings = settings
        self.records = records
        #: Partitions per topic the events are taken as keyed to (the publisher's CRC-32).
        self.partitions = partitions
        self.books: dict[str, dict[str, float]] = {}
        #: Partner topic -> its entries (kind, book, event id) -> deadline, and the same as a
        #: heap by deadline (an entry no longer in the dict is skipped when popped).
        self.held: dict[str, dict[tuple[str, str, str], float]] = {t: {} for t in PARTNER_TOPICS}
        self.deadlines: dict[str, list[tuple[float, tuple[str, str, str]]]] = {
            t: [] for t in PARTNER_TOPICS}
        self.stash: dict[str, str] = {}
        self.watermarks: dict[str, dict[int, float]] = {}

    def apply(self, event: Envelope, waits: Sequence[Wait], into: BatchJoins, *,
              redo: bool = False) -> list[Released]:
        at, out = event.occurred_at.timestamp(), []
        for wait in waits:
            if type(wait) is Hold:
                book = self.books.setdefault(wait.book, {})
                if wait.record not in self.records and event.id not in book:
                    book[event.id] = at
                    self._hold(TOPIC_BY_TYPE[wait.partner], ("H", wait.book, event.id),
                               at + self.settings.window)
                    self.stash[event.id] = stash(event)
                    into.held += 1
            elif type(wait) is Arrive:
                for held_id in sorted(self.books.get(wait.book, {})):
                    out.append(Released(self.stash[held_id].encode(), wait.book,
                                        "partner_arrived", ("memory", wait.book, held_id)))
            elif type(wait) is Watch:
                book = self.books.setdefault(wait.book, {})
                if not redo:
                    later = sorted((t, k) for k, t in book.items()
                                   if k != event.id and at <= t < at + wait.window)
                    out += [Released(self.stash[k].encode(), wait.book, "counted_late")
                            for _, k in later]
                if event.id not in book:
                    book[event.id] = at
                    self._hold(TOPIC_BY_TYPE[wait.partner], ("W", wait.book, event.id),
                               at + wait.window + self.settings.window)
                    self.stash[event.id] = stash(event)
        return out

    def _expire(self, topic: str, low: float, into: BatchJoins) -> None:
        """Let go the entries waiting on ``topic`` whose deadline its low watermark passed (in
        memory a re-decision is released at once: no matched hold is left to keep)."""
        held, heap = self.held.get(topic), self.deadlines.get(topic)
        while heap and heap[0][0] < low:
            deadline, entry = heapq.heappop(heap)
            if held is None or held.get(entry) != deadline:
                continue  # released or let go already
            del held[entry]
            kind, book, event_id = entry
            self.books.get(book, {}).pop(event_id, None)
            into.ended += kind == "H"
            into.watched_ended += kind == "W"

    def _hold(self, topic: str, entry: tuple[str, str, str], deadline: float) -> None:
        self.held[topic][entry] = deadline
        heapq.heappush(self.deadlines[topic], (deadline, entry))

    def release(self, hold: tuple[str, str, str]) -> None:
        """A re-decision was made: its hold leaves its book (a file is read once: no
        redelivered partner can come to release it again, as it can in Redis)."""
        _, book, event_id = hold
        self.books.get(book, {}).pop(event_id, None)
        for held in self.held.values():
            held.pop(("H", book, event_id), None)

    def advance(self, event: Envelope, into: BatchJoins, ceiling: float) -> None:
        """The event's topic-partition's watermark (never past ``ceiling``, the reader's clock
        plus the skew it accepts), then the ``X`` op for its topic."""
        topic = TOPIC_BY_TYPE[event.type]
        at = min(event.occurred_at.timestamp(), ceiling)
        marks = self.watermarks.setdefault(topic, {})
        partition = partition_of(event.subject_id, self.partitions)
        marks[partition] = max(marks.get(partition, at), at)
        if len(marks) == self.partitions:
            low = into.low_watermarks[topic] = min(marks.values())
            self._expire(topic, low, into)
        while sum(map(len, self.held.values())) > self.settings.max_held:
            oldest = min((t for t, heap in self.deadlines.items() if heap),
                         key=lambda t: self.deadlines[t][0][0])
            deadline, entry = heapq.heappop(self.deadlines[oldest])
            if self.held[oldest].get(entry) != deadline:
                continue  # released or let go already
            del self.held[oldest][entry]
            self.books.get(entry[1], {}).pop(entry[2], None)
            into.full += 1
