"""The review queue in Redis: flags group into one open case per entity, analysts claim and decide.

Every state change is one Lua script (or one MULTI), so it is atomic, and idempotent:

* ``add_flag``: a flag id seen before changes nothing (a redelivered event or flag never creates a
  second flag or case). A repeat hit of the same detector on the same open case within the flag's
  ``dedup_seconds`` (event time), or a hit of a detector an analyst snoozed for that entity, adds no
  flag to the case: it is recorded as suppressed (stored, linked, counted).
* ``claim``: exclusive, with a lease that expires if the analyst walks away; a second claimer is
  refused while the lease runs; the holder renews by claiming again.
* ``decide``: needs the claim; keyed by ``decision_id`` (same id, same result, one event). It closes
  the case (``escalate`` hands it to leads), appends to the audit stream and writes the
  ``review.decided`` event to an outbox in the same step; :class:`pipeline.review.web.relay.OutboxRelay`
  publishes it. A decided case is kept as it was; the entity's next flag opens a new case.

Priority is ``base - age_weight * created_at / 3600`` in a sorted set, where ``base`` comes from
severity, the highest score, reports and flags: ordering by it equals ordering by
``base + age_weight * age_hours`` at any moment, so age raises priority without rescoring.

Keys (prefix ``vigil:``): ``flag:<id>`` (every flag, JSON), ``flag_case`` and ``flag_suppressed``
(hashes by flag id), ``event:<event_id>`` (the flagged event's envelope), ``case:<id>`` (hash) and
``case:<id>:flags`` (list), ``case_suppressed:``, ``case_dedup:``, ``case_notes:``,
``case_decisions:<id>``, ``entity:<entity>:open_case``, ``entity_cases:<entity>``,
``queue`` / ``escalated`` (priority), ``closed`` (by decision time), ``sla`` and ``sla:pending``
(due times), ``snooze:<entity>``, ``decision:<id>``, ``entity_decisions:<entity>``,
``subject_decisions:<user>``, ``audit`` (stream), ``outbox:pending`` / ``outbox:published``,
``stats:*`` and per-minute series ``ts:*``.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detectors.results import SEVERITY_RANK
from pipeline.settings import QueueSettings
from schemas.errors import VigilError
from schemas.events import ReviewDecided
from schemas.outputs import Flag

K = "vigil:"
SEVERITY_NAME = {rank: name for name, rank in SEVERITY_RANK.items()}
STATUSES = ("open", "escalated", "closed")
OUTCOMES = ("confirmed_fraud", "legitimate", "escalate")
SLA_STATES = ("ok", "due_soon", "breached")
REPORT_DETECTOR = "report.user_report"
REPORT_EVENT = "user_report.filed"
#: A decision event names at most this many events (the contract's limit).
MAX_EVENT_IDS = 1000

Outcome = Literal["confirmed_fraud", "legitimate", "escalate"]


# ---- errors ----------------------------------------------------------------------------------


class ReviewError(VigilError):
    """A review action that cannot be done; ``status`` is the HTTP status the API answers."""

    status = 409
    code = "conflict"


class CaseNotFound(ReviewError):
    status, code = 404, "not_found"


class InvalidDecision(ReviewError):
    status, code = 422, "invalid_decision"


class ClaimConflict(ReviewError):
    """Someone else holds the case."""


class NotClaimed(ReviewError):
    """Deciding or releasing needs the caller to hold the claim."""


class CaseClosed(ReviewError):
    """The case was decided; decided cases never change."""


class LeadsOnly(ReviewError):
    status, code = 403, "forbidden"


class DecisionConflict(ReviewError):
    """A decision id was reused for another case."""


# ---- configuration ---------------------------------------------------------------------------

class QueueConfig(QueueSettings):
    """The queue's settings (declared in :class:`pipeline.settings.QueueSettings`, read from
    ``VIGIL_REVIEW_*``) and the priority and SLA rules computed from them."""

    def weights(self) -> list[float]:
        return [self.severity_weight, self.score_weight, self.report_weight, self.report_cap,
                self.flag_weight, self.flag_cap, self.age_weight_per_hour]

    def base_priority(self, severity_rank: int, max_score: float, reports: int, flags: int) -> float:
        """The part of priority that does not grow with age (the Lua scripts compute the same).

        >>> c = QueueConfig()
        >>> c.base_priority(4, 0.9, 0, 1) > c.base_priority(3, 1.0, 0, 1)
        True
        >>> c.base_priority(2, 0.5, 3, 1) > c.base_priority(2, 0.5, 0, 1)
        True
        """
        return (self.severity_weight * severity_rank + self.score_weight * max_score
                + self.report_weight * min(reports, self.report_cap)
                + self.flag_weight * min(flags, self.flag_cap))

    def priority(self, base: float, created_at: float, now: float) -> float:
        return base + self.age_weight_per_hour * max(0.0, now - created_at) / 3600

    def sla_state(self, due_at: float, severity: str, now: float) -> str:
        """``breached`` past the due time, ``due_soon`` in the last share of the SLA, else ``ok``.

        >>> QueueConfig().sla_state(due_at=1000.0, severity="critical", now=999.0)
        'due_soon'
        >>> QueueConfig().sla_state(due_at=1000.0, severity="critical", now=1000.0)
        'breached'
        """
        left = due_at - now
        if left <= 0:
            return "breached"
        if left < self.due_soon_fraction * self.sla_seconds.get(severity, 86400):
            return "due_soon"
        return "ok"


# ---- Lua -------------------------------------------------------------------------------------
# Keys derive from ARGV (the case a flag joins is only known inside the script); on Redis Cluster
# they would need a shared hash tag. See README, "Known limits".

_PRIORITY_LUA = """
local function priority(key, w, created)
  local sev, top, reports, flags = unpack(redis.call('HMGET', key, 'severity', 'max_score',
                                                     'report_count', 'flag_count'))
  local base = w[1] * tonumber(sev) + w[2] * tonumber(top)
             + w[3] * math.min(tonumber(reports), w[4]) + w[5] * math.min(tonumber(flags), w[6])
  return base, base - w[7] * created / 3600
end
"""

# One call adds a batch of flags, in order: ARGV[1] is a JSON array with one argument list per
# flag (one string is far cheaper for redis-py to send than thousands of arguments).
_ADD_FLAGS = _PRIORITY_LUA + """
local function add(ARGV)
local flag_id, flag_json, entity, entity_type, entity_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local sev, score, now = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local detector, candidate, occurred = ARGV[9], ARGV[10], tonumber(ARGV[11])
local dedup, is_report, subject = tonumber(ARGV[12]), ARGV[13] == '1', ARGV[14]
local event_id, event_json, sla, minute, reason = ARGV[15], ARGV[16], tonumber(ARGV[17]), ARGV[18], ARGV[19]
local w = {}
for i = 20, 26 do w[#w + 1] = tonumber(ARGV[i]) end

-- Every read that can fail (a key of the wrong type, a snooze that is not JSON) runs before
-- the first write: Redis does not roll a failed script back, and a flag key left behind by a
-- failed run would make the retry a silent "duplicate" with no case.
local open_key = 'vigil:entity:' .. entity .. ':open_case'
local case_id = redis.call('GET', open_key)
local why = nil
local snooze = redis.call('HGET', 'vigil:snooze:' .. entity, detector)
if snooze and tonumber(cjson.decode(snooze)['expires_at']) > now then
  why = 'snoozed'
elseif case_id and dedup > 0 then
  local last = redis.call('HGET', 'vigil:case_dedup:' .. case_id, detector)
  if last and math.abs(occurred - tonumber(last)) < dedup then why = 'dedup' end
end

if redis.call('SET', 'vigil:flag:' .. flag_id, flag_json, 'NX') == false then
  return {0, redis.call('HGET', 'vigil:flag_case', flag_id) or '',
          redis.call('HGET', 'vigil:flag_suppressed', flag_id) or '', 0}
end
if event_json ~= '' then redis.call('SET', 'vigil:event:' .. event_id, event_json, 'NX') end
redis.call('HINCRBY', 'vigil:stats:flags_by_detector', detector, 1)
redis.call('HINCRBY', 'vigil:ts:flags:' .. detector, minute, 1)
redis.call('SADD', 'vigil:ts:detectors', detector)

if why then
  redis.call('HSET', 'vigil:flag_suppressed', flag_id, why)
  redis.call('HSET', 'vigil:flag_case', flag_id, case_id or '')
  if case_id then
    redis.call('RPUSH', 'vigil:case_suppressed:' .. case_id, flag_id)
    redis.call('HINCRBY', 'vigil:case:' .. case_id, 'suppressed_count', 1)
  end
  redis.call('HINCRBY', 'vigil:stats:suppressed', why, 1)
  redis.call('HINCRBY', 'vigil:stats:suppressed_by_detector', detector, 1)
  return {0, case_id or '', why, 1}
end

if not case_id then
  case_id = candidate
  redis.call('SET', open_key, case_id)
  redis.call('HSET', 'vigil:case:' .. case_id, 'case_id', case_id, 'entity', entity,
             'entity_type', entity_type, 'entity_id', entity_id, 'subject_id', subject,
             'status', 'open', 'created_at', now, 'updated_at', now, 'severity', 0,
             'max_score', 0, 'flag_count', 0, 'report_count', 0, 'suppressed_count', 0,
             'detectors', ',', 'due_at', now + sla, 'top_reason', '', 'top_detector', '')
  redis.call('RPUSH', 'vigil:entity_cases:' .. entity, case_id)
  redis.call('INCR', 'vigil:stats:cases_opened')
end
local key = 'vigil:case:' .. case_id
local count = redis.call('HINCRBY', key, 'flag_count', 1)
local old_sev, old_top, due, status, dets, created, have_subject, breached = unpack(redis.call(
  'HMGET', key, 'severity', 'max_score', 'due_at', 'status', 'detectors', 'created_at',
  'subject_id', 'breached_at'))
old_sev, old_top = tonumber(old_sev), tonumber(old_top)
if sev > old_sev or (sev == old_sev and score > old_top) then
  redis.call('HSET', key, 'top_reason', reason, 'top_detector', detector)
end
redis.call('HSET', key, 'severity', math.max(old_sev, sev), 'max_score', math.max(old_top, score),
           'updated_at', now, 'due_at', math.min(tonumber(due), now + sla))
if is_report then redis.call('HINCRBY', key, 'report_count', 1) end
if not string.find(dets, ',' .. detector .. ',', 1, true) then
  redis.call('HSET', key, 'detectors', dets .. detector .. ',')
end
if (have_subject == false or have_subject == '') and subject ~= '' then
  redis.call('HSET', key, 'subject_id', subject)
end
local last = redis.call('HGET', 'vigil:case_dedup:' .. case_id, detector)
if not last or occurred > tonumber(last) then
  redis.call('HSET', 'vigil:case_dedup:' .. case_id, detector, occurred)
end
local base, zscore = priority(key, w, tonumber(created))
redis.call('HSET', key, 'priority_base', base)
redis.call('ZADD', status == 'escalated' and 'vigil:escalated' or 'vigil:queue', zscore, case_id)
local due_now = tonumber(redis.call('HGET', key, 'due_at'))
redis.call('ZADD', 'vigil:sla', due_now, case_id)
if breached == false or breached == '' then redis.call('ZADD', 'vigil:sla:pending', due_now, case_id) end
redis.call('RPUSH', key .. ':flags', flag_id)
redis.call('HSET', 'vigil:flag_case', flag_id, case_id)
redis.call('XADD', 'vigil:flags:recent', 'MAXLEN', '~', 10000, '*', 'flag_id', flag_id,
           'detector', detector, 'case_id', case_id)
return {1, case_id, '', 1}
end

-- Each flag on its own: a flag Redis refuses (an error reply) wrote nothing, since its reads
-- run before its first write, so the flags after it go on, and the caller learns which failed.
local out = {}
for i, args in ipairs(cjson.decode(ARGV[1])) do
  local ok, result = pcall(add, args)
  if ok then out[i] = result
  else out[i] = {-1, type(result) == 'table' and tostring(result.err) or tostring(result)} end
end
return out
"""

_CLAIM = """
local case_id, who, now, lease, is_lead, action, actor, details =
  ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6], ARGV[7], ARGV[8]
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local status, holder, lease_until = unpack(redis.call('HMGET', key, 'status', 'claimed_by', 'lease_until'))
if status == 'closed' then return {'closed'} end
if status == 'escalated' and not is_lead then return {'escalated'} end
local held = holder and holder ~= '' and tonumber(lease_until) > now
if action == 'claim' and held and holder ~= who then return {'held', holder, lease_until} end
local what = action
if action == 'claim' and held and holder == who then what = 'renew' end
local new_until = now + lease
redis.call('HSET', key, 'claimed_by', who, 'lease_until', new_until)
if what ~= 'renew' then redis.call('HSET', key, 'claimed_at', now) end
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', actor, 'action', what,
           'case_id', case_id, 'details', details)
return {'ok', tostring(new_until), what}
"""

_RELEASE = """
local case_id, who, now, is_lead = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local holder, lease_until = unpack(redis.call('HMGET', key, 'claimed_by', 'lease_until'))
if not holder or holder == '' then return {'not_claimed'} end
if holder ~= who and not is_lead then
  if tonumber(lease_until) > now then return {'held', holder, lease_until} end
  return {'not_claimed'}
end
redis.call('HDEL', key, 'claimed_by', 'lease_until', 'claimed_at')
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', who, 'action', 'release',
           'case_id', case_id, 'details', cjson.encode({previous_holder = holder}))
return {'ok', holder}
"""

_DECIDE = """
local case_id, decision_id, who, is_lead, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local expected_flags, outcome, decision_json, event_json = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local subject, minute = ARGV[10], ARGV[11]
local existing = redis.call('GET', 'vigil:decision:' .. decision_id)
if existing then return {'dup', existing} end
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local status, holder, lease_until, count, entity, due, breached = unpack(redis.call('HMGET', key,
  'status', 'claimed_by', 'lease_until', 'flag_count', 'entity', 'due_at', 'breached_at'))
if status == 'closed' then return {'closed'} end
if status == 'escalated' and not is_lead then return {'escalated'} end
if status == 'escalated' and outcome == 'escalate' then return {'already_escalated'} end
if holder ~= who or tonumber(lease_until) <= now then
  return {'not_claimed', holder or '', lease_until or ''}
end
if tonumber(count) ~= expected_flags then return {'stale'} end

redis.call('SET', 'vigil:decision:' .. decision_id, decision_json)
redis.call('RPUSH', 'vigil:case_decisions:' .. case_id, decision_json)
redis.call('RPUSH', 'vigil:entity_decisions:' .. entity, decision_json)
if subject ~= '' then redis.call('RPUSH', 'vigil:subject_decisions:' .. subject, decision_json) end
redis.call('HDEL', key, 'claimed_by', 'lease_until', 'claimed_at')
redis.call('HSET', key, 'outcome', outcome, 'decision_id', decision_id, 'decided_by', who,
           'decided_at', now, 'updated_at', now)
if (breached == false or breached == '') and tonumber(due) <= now then
  redis.call('HSET', key, 'breached_at', due)
  redis.call('INCR', 'vigil:stats:sla_breaches')
  redis.call('HINCRBY', 'vigil:ts:sla_breaches', minute, 1)
end
redis.call('ZREM', 'vigil:sla:pending', case_id)
if outcome == 'escalate' then
  local score = redis.call('ZSCORE', 'vigil:queue', case_id)
  redis.call('ZREM', 'vigil:queue', case_id)
  redis.call('ZADD', 'vigil:escalated', score or 0, case_id)
  redis.call('HSET', key, 'status', 'escalated', 'escalated_at', now)
else
  redis.call('ZREM', 'vigil:queue', case_id)
  redis.call('ZREM', 'vigil:escalated', case_id)
  redis.call('ZREM', 'vigil:sla', case_id)
  redis.call('ZADD', 'vigil:closed', now, case_id)
  redis.call('HSET', key, 'status', 'closed')
  local open_key = 'vigil:entity:' .. entity .. ':open_case'
  if redis.call('GET', open_key) == case_id then redis.call('DEL', open_key) end
end
redis.call('HSET', 'vigil:outbox:pending', decision_id, event_json)
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', who, 'action', 'decide',
           'case_id', case_id, 'details', decision_json)
redis.call('HINCRBY', 'vigil:stats:decisions', outcome, 1)
redis.call('HINCRBY', 'vigil:ts:decisions:' .. outcome, minute, 1)
return {'ok', decision_json}
"""

_MARK_BREACHES = """
local now, minute = tonumber(ARGV[1]), ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', 'vigil:sla:pending', '-inf', now)
for _, case_id in ipairs(ids) do
  local key = 'vigil:case:' .. case_id
  local status, due = unpack(redis.call('HMGET', key, 'status', 'due_at'))
  if status and status ~= 'closed' then
    redis.call('HSET', key, 'breached_at', due)
    redis.call('INCR', 'vigil:stats:sla_breaches')
    redis.call('HINCRBY', 'vigil:ts:sla_breaches', minute, 1)
  end
  redis.call('ZREM', 'vigil:sla:pending', case_id)
end
return #ids
"""

_MARK_PUBLISHED = """
local decision_id, now = ARGV[1], ARGV[2]
if redis.call('HDEL', 'vigil:outbox:pending', decision_id) == 1 then
  redis.call('HSET', 'vigil:outbox:published', decision_id, now)
  return 1
end
return 0
"""


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddResult:
    created: bool
    case_id: str
    #: Why the flag was not added to a case (``dedup`` or ``snoozed``); None if it was, or if it
    #: was seen before and added then.
    suppressed: str | None = None
    #: The error Redis refused this flag with (a key of the wrong type, out of memory): nothing
    #: of it was written, so adding it again is safe. None if it was taken.
    error: str | None = None

    @property
    def outage(self) -> bool:
        """Refused because Redis cannot take writes for now (out of memory, read-only): wait
        and add it again, rather than treat the flag as failed."""
        from pipeline.stores.outages import is_outage

        return self.error is not None and is_outage(ResponseError(self.error))


@dataclass(frozen=True)
class ClaimResult:
    case_id: str
    claimed_by: str
    lease_until: float
    #: ``claim``, ``renew`` or ``reassign``.
    action: str


@dataclass(frozen=True)
class DecisionResult:
    decision: dict[str, Any]
    #: True when this decision id was decided before: nothing changed, no second event.
    replayed: bool


def _script_error(message: str) -> str:
    """An error a flag's script call caught, as Redis would reply it (its code first, so
    :func:`pipeline.stores.outages.is_outage` reads it).

    >>> _script_error("@user_script: 5: -OOM command not allowed when used memory > 'maxmemory'.\\r\\n")
    "OOM command not allowed when used memory > 'maxmemory'."
    >>> _script_error("WRONGTYPE Operation against a key holding the wrong kind of value")
    'WRONGTYPE Operation against a key holding the wrong kind of value'
    """
    return re.sub(r"^(?:@user_script:? ?\d+: )*-?", "", message).strip()


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _f(value: Any, default: float = 0.0) -> float:
    try:
        return float(_s(value)) if value not in (None, b"", "") else default
    except ValueError:
        return default


def iso(ts: float | None) -> str | None:
    """Epoch seconds as RFC 3339 UTC (None stays None).

    >>> iso(0)
    '1970-01-01T00:00:00Z'
    """
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


def is_report(flag: Flag) -> bool:
    return flag.detector_id == REPORT_DETECTOR or flag.event_type == REPORT_EVENT


def minute_of(ts: float) -> str:
    return str(int(ts // 60) * 60)


_SUMMARY_FIELDS = ("case_id", "entity", "entity_type", "entity_id", "subject_id", "status",
                   "created_at", "updated_at", "severity", "max_score", "flag_count",
                   "report_count", "suppressed_count", "detectors", "due_at", "breached_at",
                   "claimed_by", "lease_until", "priority_base", "top_reason", "top_detector",
                   "outcome", "decision_id", "decided_by", "decided_at", "escalated_at")


class ReviewQueue:
    """Cases in Redis. ``clock`` returns epoch seconds (tests pass a fake one)."""

    def __init__(self, redis: Redis, config: QueueConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        # Interim: the review service hands in its QueueSettings; the rules live on QueueConfig.
        self.config = QueueConfig.model_validate((config or QueueConfig()).model_dump())
        self.clock = clock
        self._add = redis.register_script(_ADD_FLAGS)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._decide = redis.register_script(_DECIDE)
        self._mark_breaches = redis.register_script(_MARK_BREACHES)
        self._mark_published = redis.register_script(_MARK_PUBLISHED)

    # ---- flags -------------------------------------------------------------------------------

    async def add_flag(self, flag: Flag, event: Mapping[str, Any] | Any | None = None) -> AddResult:
        """Add one flag (idempotent by flag id). ``event`` is the flagged event's envelope (a dict
        or a schemas model; default: ``flag.event`` when the flag carries it), stored once under
        ``vigil:event:<event_id>`` so the case can show it. Raises
        :class:`redis.exceptions.ResponseError` if Redis refused it (nothing was written)."""
        result = (await self.add_flags([flag], [event]))[0]
        if result.error is not None:
            raise ResponseError(result.error)
        return result

    async def add_flags(self, flags: Sequence[Flag],
                        events: Sequence[Mapping[str, Any] | Any | None] | None = None,
                        ) -> list[AddResult]:
        """Add flags in order with one script call, each as :meth:`add_flag` would. A flag Redis
        refuses writes nothing and comes back with its ``error``; the others are added all the
        same. Adding any of them again is safe."""
        if not flags:
            return []
        now = self.clock()
        replies = await self._add(args=[self._flags_argument(flags, events, now)])
        return self._add_results(flags, replies, now)

    def add_flags_to(self, pipe: Any, flags: Sequence[Flag]) -> Callable[[Any], list[AddResult]]:
        """Queue :meth:`add_flags` of ``flags`` on a pipeline (one ``EVALSHA``); returns what
        reads its reply. A reply of :class:`redis.exceptions.NoScriptError` (Redis lost its
        scripts: a restart without them) means :meth:`load_scripts`, then queue it again."""
        now = self.clock()
        pipe.evalsha(self._add.sha, 0, self._flags_argument(flags, None, now))
        return lambda replies: self._add_results(flags, replies, now)

    async def load_scripts(self) -> None:
        await self.redis.script_load(_ADD_FLAGS)

    def _flags_argument(self, flags: Sequence[Flag],
                        events: Sequence[Mapping[str, Any] | Any | None] | None, now: float) -> bytes:
        return orjson.dumps([self._flag_args(flag, event, now)
                             for flag, event in zip(flags, events or [None] * len(flags))])

    def _add_results(self, flags: Sequence[Flag], replies: Any, now: float) -> list[AddResult]:
        from pipeline import metrics

        results = []
        for flag, reply in zip(flags, replies):
            if reply[0] == -1:
                result = AddResult(False, "", None, error=_script_error(_s(reply[1])))
                if not result.outage:  # an outage is retried, not a failure
                    metrics.QUEUE_FLAGS.labels(flag.detector_id, "failed").inc()
                results.append(result)
                continue
            created, case_id, suppressed, fresh = reply
            why = _s(suppressed) or None
            result = AddResult(bool(created), _s(case_id), why)
            if not fresh:
                outcome = "duplicate"
            else:
                outcome = "created" if result.created else f"suppressed_{why}"
            metrics.QUEUE_FLAGS.labels(flag.detector_id, outcome).inc()
            if result.created:
                metrics.FLAG_TO_CASE.observe(max(0.0, now - flag.flagged_at.timestamp()))
            results.append(result)
        return results

    def _flag_args(self, flag: Flag, event: Mapping[str, Any] | Any | None, now: float) -> list[str]:
        entity = f"{flag.entity_type}:{flag.entity_id}"
        if event is None:  # the worker may carry the envelope on the flag itself
            event = getattr(flag, "event", None)
        event_json = ""
        if event is not None:
            data = event.model_dump(mode="json") if hasattr(event, "model_dump") else dict(event)
            event_json = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str).decode()
        report = is_report(flag)
        if flag.entity_type == "user":
            subject = flag.entity_id
        elif report:  # a report's subject_id is the reporter, not the reported
            subject = ""
        else:
            subject = flag.subject_id
        # Numbers travel as strings (repr: every digit of a timestamp), as redis-py sends them.
        return [
            # The envelope is stored once under vigil:event:<id>, not inside every flag.
            flag.flag_id, flag.model_dump_json(exclude={"event"}), entity, flag.entity_type,
            flag.entity_id,
            str(SEVERITY_RANK[flag.severity]), repr(flag.score), repr(now), flag.detector_id,
            "case_" + flag.flag_id.removeprefix("flg_")[:20],
            repr(flag.occurred_at.timestamp()), str(flag.dedup_seconds), "1" if report else "0",
            subject, flag.event_id, event_json, str(self.config.sla_seconds[flag.severity]),
            minute_of(now), flag.reason[:500], *map(repr, self.config.weights()),
        ]

    async def flag_counts_by_detector(self) -> dict[str, int]:
        raw = await self.redis.hgetall(K + "stats:flags_by_detector")
        return {_s(k): int(v) for k, v in raw.items()}

    async def suppressed_counts(self) -> dict[str, int]:
        """Suppressed flags by reason (``dedup``, ``snoozed``)."""
        raw = await self.redis.hgetall(K + "stats:suppressed")
        return {_s(k): int(v) for k, v in raw.items()}

    async def flag_count(self) -> int:
        return await self.redis.hlen(K + "flag_case")

    # ---- reading cases -----------------------------------------------------------------------

    def _summary(self, raw: Mapping[str, Any], now: float) -> dict[str, Any]:
        c = {_s(k): _s(v) for k, v in raw.items() if v is not None}
        rank = int(_f(c.get("severity")))
        severity = SEVERITY_NAME.get(rank, "low")
        created = _f(c.get("created_at"), now)
        due = _f(c.get("due_at"), now)
        lease_until = _f(c.get("lease_until"))
        status = c.get("status", "open")
        breached_at = _f(c.get("breached_at")) or None
        holder = c.get("claimed_by") or None
        if status == "closed":
            sla_state = "breached" if breached_at else "met"
        else:
            sla_state = self.config.sla_state(due, severity, now)
        base = _f(c.get("priority_base"))
        return {
            "case_id": c.get("case_id", ""),
            "entity": c.get("entity", ""),
            "entity_type": c.get("entity_type") or c.get("entity", ":").split(":", 1)[0],
            "entity_id": c.get("entity_id") or c.get("entity", ":").split(":", 1)[-1],
            "subject_id": c.get("subject_id") or None,
            "status": status,
            "severity": severity,
            "max_score": round(_f(c.get("max_score")), 4),
            "flag_count": int(_f(c.get("flag_count"))),
            "report_count": int(_f(c.get("report_count"))),
            "suppressed_count": int(_f(c.get("suppressed_count"))),
            "detectors": [d for d in c.get("detectors", "").split(",") if d],
            "top_reason": c.get("top_reason", ""),
            "top_detector": c.get("top_detector", ""),
            "created_at": created,
            "updated_at": _f(c.get("updated_at"), created),
            "age_seconds": max(0.0, (_f(c.get("decided_at")) or now) - created),
            "priority": round(self.config.priority(base, created, now)
                              if status != "closed" else base, 1),
            "due_at": due,
            "sla_state": sla_state,
            "breached_at": breached_at,
            "claimed_by": holder if holder and lease_until > now else None,
            "lease_until": lease_until if holder and lease_until > now else None,
            "outcome": c.get("outcome") or None,
            "decision_id": c.get("decision_id") or None,
            "decided_by": c.get("decided_by") or None,
            "decided_at": _f(c.get("decided_at")) or None,
            "escalated_at": _f(c.get("escalated_at")) or None,
        }

    async def summary(self, case_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(f"{K}case:{case_id}")
        if not raw:
            return None
        return self._summary(raw, self.clock())

    async def case(self, case_id: str) -> dict[str, Any] | None:
        """A case's state and its flags."""
        summary = await self.summary(case_id)
        if summary is None:
            return None
        summary["flags"] = await self._flags(f"{K}case:{case_id}:flags")
        return summary

    async def _flags(self, list_key: str) -> list[dict[str, Any]]:
        ids = [_s(f) for f in await self.redis.lrange(list_key, 0, -1)]
        if not ids:
            return []
        return [json.loads(f) for f in await self.redis.mget([f"{K}flag:{i}" for i in ids]) if f]

    async def case_detail(self, case_id: str) -> dict[str, Any] | None:
        """Everything an analyst needs: flags, the events behind them, rule reasons and model
        explanations (in the flags), suppressed hits, notes, decisions, the subject's consent
        state and earlier decisions on the entity and the subject, active snoozes."""
        case = await self.case(case_id)
        if case is None:
            return None
        event_ids = list(dict.fromkeys(f["event_id"] for f in case["flags"]))
        stored = await self.redis.mget([f"{K}event:{e}" for e in event_ids]) if event_ids else []
        case["events"] = [
            json.loads(raw) if raw else {"event_id": e, "stored": False}
            for e, raw in zip(event_ids, stored)
        ]
        case["suppressed_flags"] = await self._flags(f"{K}case_suppressed:{case_id}")
        reasons = await self.redis.hmget(K + "flag_suppressed",
                                         [f["flag_id"] for f in case["suppressed_flags"]] or ["-"])
        for f, why in zip(case["suppressed_flags"], reasons):
            f["suppressed"] = _s(why) if why else None
        case["notes"] = [json.loads(n) for n in await self.redis.lrange(f"{K}case_notes:{case_id}", 0, -1)]
        case["decisions"] = [json.loads(d) for d in
                             await self.redis.lrange(f"{K}case_decisions:{case_id}", 0, -1)]
        subject = case["subject_id"] or await self._subject_for(case)
        case["subject_id"] = subject
        earlier: dict[str, dict[str, Any]] = {}
        keys = [f"{K}entity_decisions:{case['entity']}"]
        if subject:
            keys.append(f"{K}subject_decisions:{subject}")
        for key in keys:
            for raw in await self.redis.lrange(key, 0, -1):
                d = json.loads(raw)
                if d["case_id"] != case_id:
                    earlier[d["decision_id"]] = d
        case["earlier_decisions"] = sorted(earlier.values(), key=lambda d: d["decided_at"], reverse=True)
        case["consent"] = await self.consent(subject) if subject else None
        case["snoozes"] = await self.snoozes(case["entity_type"], case["entity_id"])
        return case

    async def consent(self, user_id: str) -> dict[str, Any]:
        """The subject's AI-features consent: the change in force now and the history."""
        from pipeline.stores.consent import PREFIX
        history = [json.loads(m) for m in await self.redis.zrevrange(PREFIX + user_id, 0, 49)]
        return {"user_id": user_id, "current": history[0] if history else None, "history": history}

    async def _subject_for(self, case: Mapping[str, Any]) -> str:
        """The user a case is about when no flag said: a job post's client (from the feature
        store's job profile), else the entity id."""
        if case["entity_type"] == "user":
            return str(case["entity_id"])
        for f in case.get("flags", []):
            if f.get("event_type") != REPORT_EVENT and f.get("detector_id") != REPORT_DETECTOR:
                return str(f["subject_id"])
        if case["entity_type"] == "job_post":
            raw = await self.redis.get(f"{K}f:job:{case['entity_id']}")
            if raw:
                client = json.loads(raw).get("client_id")
                if client:
                    return str(client)
        return str(case["entity_id"])

    async def open_cases(self, limit: int = 50) -> list[dict[str, Any]]:
        """The highest-priority open cases, with their flags."""
        ids = await self.redis.zrevrange(K + "queue", 0, limit - 1)
        return [c for c in [await self.case(_s(i)) for i in ids] if c]

    async def queue_depth(self) -> int:
        return await self.redis.zcard(K + "queue")

    async def list_cases(self, *, status: str = "open", entity_type: str | None = None,
                         severity: str | None = None, detector: str | None = None,
                         sla: str | None = None, claimed: str | None = None,
                         viewer: str | None = None, entity_id: str | None = None,
                         sort: str = "priority", offset: int = 0,
                         limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """One page of case summaries and the number of matches.

        Open and escalated cases are read whole (a review queue holds thousands, not millions)
        and filtered here; closed cases are read newest first in chunks.
        """
        now = self.clock()

        def keep(c: dict[str, Any]) -> bool:
            return ((entity_type is None or c["entity_type"] == entity_type)
                    and (entity_id is None or c["entity_id"] == entity_id)
                    and (severity is None or c["severity"] == severity)
                    and (detector is None or detector in c["detectors"])
                    and (sla is None or c["sla_state"] == sla)
                    and (claimed is None
                         or (claimed == "unclaimed" and c["claimed_by"] is None)
                         or (claimed == "claimed" and c["claimed_by"] is not None)
                         or (claimed == "mine" and c["claimed_by"] == viewer)))

        zkey = {"open": "queue", "escalated": "escalated", "closed": "closed"}[status]
        matched: list[dict[str, Any]] = []
        chunk = 500
        start = 0
        while True:
            ids = [_s(i) for i in await self.redis.zrevrange(K + zkey, start, start + chunk - 1)]
            if not ids:
                break
            pipe = self.redis.pipeline(transaction=False)
            for i in ids:
                pipe.hmget(f"{K}case:{i}", _SUMMARY_FIELDS)
            for values in await pipe.execute():
                if values[0] is None:
                    continue
                c = self._summary(dict(zip(_SUMMARY_FIELDS, values)), now)
                if keep(c):
                    matched.append(c)
            start += chunk
            if status == "closed" and sort in ("priority", "updated") and len(matched) >= offset + limit:
                # Closed cases come newest first; enough for this page (the total is a floor).
                break
        if status != "closed" or sort != "updated":
            order = {
                "priority": lambda c: (-c["priority"], c["created_at"]),
                "sla": lambda c: (c["due_at"], -c["priority"]),
                "age": lambda c: (c["created_at"], -c["priority"]),
                "updated": lambda c: (-(c["decided_at"] or c["updated_at"]), -c["priority"]),
            }[sort]
            if status == "closed" and sort == "priority":
                order = lambda c: (-(c["decided_at"] or 0.0),)  # noqa: E731
            matched.sort(key=order)
        return matched[offset:offset + limit], len(matched)

    async def known_detectors(self) -> list[str]:
        return sorted(_s(d) for d in await self.redis.hkeys(K + "stats:flags_by_detector"))

    # ---- claims ------------------------------------------------------------------------------

    def _raise(self, reply: list[Any], case_id: str) -> None:
        code = _s(reply[0])
        if code == "missing":
            raise CaseNotFound(f"no case {case_id}")
        if code == "closed":
            raise CaseClosed(f"case {case_id} is decided and closed")
        if code == "escalated":
            raise LeadsOnly(f"case {case_id} is escalated: only leads work escalated cases")
        if code == "already_escalated":
            raise CaseClosed(f"case {case_id} is already escalated")
        if code == "held":
            raise ClaimConflict(f"case {case_id} is claimed by {_s(reply[1])} until "
                                f"{iso(_f(reply[2]))}")
        if code == "not_claimed":
            holder = _s(reply[1]) if len(reply) > 1 else ""
            raise NotClaimed(f"claim case {case_id} first" + (
                f" (claimed by {holder})" if holder and _f(reply[2]) > self.clock() else ""))
        raise ReviewError(f"unexpected reply {code!r} for case {case_id}")

    async def claim(self, case_id: str, analyst: str, *, lead: bool = False) -> ClaimResult:
        """Claim (or renew the claim on) a case for ``lease_seconds``."""
        now = self.clock()
        reply = await self._claim(args=[case_id, analyst, repr(now), self.config.lease_seconds,
                                        "1" if lead else "0", "claim", analyst, "{}"])
        if _s(reply[0]) != "ok":
            self._raise(reply, case_id)
        return ClaimResult(case_id, analyst, float(_s(reply[1])), _s(reply[2]))

    async def reassign(self, case_id: str, to: str, *, by: str) -> ClaimResult:
        """A lead hands the case (and a fresh lease) to another analyst, whoever held it."""
        now = self.clock()
        details = json.dumps({"to": to})
        reply = await self._claim(args=[case_id, to, repr(now), self.config.lease_seconds,
                                        "1", "reassign", by, details])
        if _s(reply[0]) != "ok":
            self._raise(reply, case_id)
        return ClaimResult(case_id, to, float(_s(reply[1])), "reassign")

    async def release(self, case_id: str, analyst: str, *, lead: bool = False) -> None:
        reply = await self._release(args=[case_id, analyst, repr(self.clock()), "1" if lead else "0"])
        if _s(reply[0]) != "ok":
            self._raise(reply, case_id)

    # ---- decisions ---------------------------------------------------------------------------

    def validate_decision(self, outcome: str, policy_reason: str) -> None:
        if outcome not in OUTCOMES:
            raise InvalidDecision(f"outcome must be one of {', '.join(OUTCOMES)}")
        if outcome == "confirmed_fraud" and not policy_reason:
            raise InvalidDecision("confirmed_fraud needs a policy_reason, one of "
                                  + ", ".join(self.config.policy_reasons))
        if policy_reason and policy_reason not in self.config.policy_reasons:
            raise InvalidDecision(f"unknown policy_reason {policy_reason!r}; use one of "
                                  + ", ".join(self.config.policy_reasons))

    async def decide(self, case_id: str, analyst: str, outcome: str, *, policy_reason: str = "",
                     notes: str = "", decision_id: str | None = None,
                     lead: bool = False) -> DecisionResult:
        """Decide a claimed case; the same ``decision_id`` returns the first result unchanged."""
        from pipeline import metrics

        decision_id = decision_id or f"dec_{uuid.uuid4().hex}"
        for _attempt in range(10):
            existing = await self.redis.get(f"{K}decision:{decision_id}")
            if existing:
                return self._replayed(json.loads(existing), case_id)
            self.validate_decision(outcome, policy_reason)
            case = await self.case(case_id)
            if case is None:
                raise CaseNotFound(f"no case {case_id}")
            now = self.clock()
            subject = case["subject_id"] or await self._subject_for(case)
            event_ids = list(dict.fromkeys(f["event_id"] for f in case["flags"]))[:MAX_EVENT_IDS]
            event = ReviewDecided.model_validate({
                "event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-decision:{decision_id}"),
                "type": "review.decided", "schema_version": "1.0",
                "occurred_at": datetime.fromtimestamp(now, timezone.utc),
                "producer": "review-service", "subject_id": subject,
                "payload": {
                    "decision_id": decision_id, "case_id": case_id,
                    "entity_type": case["entity_type"], "entity_id": case["entity_id"],
                    "outcome": outcome, "policy_reason": policy_reason,
                    "event_ids": [uuid.UUID(e) for e in event_ids], "analyst_id": analyst,
                },
            })
            decision = {
                "decision_id": decision_id, "case_id": case_id, "entity": case["entity"],
                "entity_type": case["entity_type"], "entity_id": case["entity_id"],
                "subject_id": subject, "outcome": outcome, "policy_reason": policy_reason,
                "notes": notes, "analyst_id": analyst, "decided_at": iso(now),
                "event_id": str(event.event_id), "event_ids": event_ids,
                "flag_count": case["flag_count"], "sla_breached": case["due_at"] <= now,
            }
            reply = await self._decide(args=[
                case_id, decision_id, analyst, "1" if lead else "0", repr(now), case["flag_count"],
                outcome, json.dumps(decision, sort_keys=True), event.model_dump_json(), subject,
                minute_of(now),
            ])
            code = _s(reply[0])
            if code == "ok":
                metrics.DECISIONS.labels(outcome).inc()
                return DecisionResult(decision, replayed=False)
            if code == "dup":
                return self._replayed(json.loads(reply[1]), case_id)
            if code != "stale":  # a flag joined while we read: read again
                self._raise(reply, case_id)
        raise ReviewError(f"case {case_id} kept changing; try again")

    @staticmethod
    def _replayed(decision: dict[str, Any], case_id: str) -> DecisionResult:
        if decision["case_id"] != case_id:
            raise DecisionConflict(f"decision id {decision['decision_id']} was used for case "
                                   f"{decision['case_id']}")
        return DecisionResult(decision, replayed=True)

    # ---- notes and snoozes -------------------------------------------------------------------

    async def add_note(self, case_id: str, author: str, text: str) -> dict[str, Any]:
        if not await self.redis.exists(f"{K}case:{case_id}"):
            raise CaseNotFound(f"no case {case_id}")
        now = self.clock()
        note = {"author": author, "text": text, "at": iso(now)}
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(f"{K}case_notes:{case_id}", json.dumps(note))
        pipe.xadd(K + "audit", {"at": repr(now), "actor": author, "action": "note",
                                "case_id": case_id, "details": json.dumps({"text": text})})
        await pipe.execute()
        return note

    async def snooze(self, entity_type: str, entity_id: str, detector_id: str, seconds: int,
                     *, by: str, reason: str = "") -> dict[str, Any]:
        """Suppress ``detector_id``'s flags on this entity for ``seconds`` (counted, not lost)."""
        now = self.clock()
        snooze = {"detector_id": detector_id, "expires_at": now + seconds, "by": by,
                  "reason": reason, "created_at": now}
        entity = f"{entity_type}:{entity_id}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(f"{K}snooze:{entity}", detector_id, json.dumps(snooze))
        pipe.xadd(K + "audit", {"at": repr(now), "actor": by, "action": "snooze", "case_id": "",
                                "details": json.dumps({"entity": entity, **snooze})})
        await pipe.execute()
        return {**snooze, "entity": entity}

    async def unsnooze(self, entity_type: str, entity_id: str, detector_id: str, *, by: str) -> bool:
        entity = f"{entity_type}:{entity_id}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(f"{K}snooze:{entity}", detector_id)
        pipe.xadd(K + "audit", {"at": repr(self.clock()), "actor": by, "action": "unsnooze",
                                "case_id": "", "details": json.dumps({"entity": entity,
                                                                      "detector_id": detector_id})})
        removed, _ = await pipe.execute()
        return bool(removed)

    async def snoozes(self, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
        """Snoozes in force for the entity."""
        now = self.clock()
        raw = await self.redis.hgetall(f"{K}snooze:{entity_type}:{entity_id}")
        out = [json.loads(v) for v in raw.values()]
        return sorted((s for s in out if s["expires_at"] > now), key=lambda s: s["detector_id"])

    # ---- audit and outbox --------------------------------------------------------------------

    async def audit(self, *, limit: int = 50, before: str | None = None,
                    case_id: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Audit entries newest first; pass the returned cursor as ``before`` for the next page."""
        out: list[dict[str, Any]] = []
        end = f"({before}" if before else "+"
        while len(out) < limit:
            batch = await self.redis.xrevrange(K + "audit", max=end, min="-", count=max(limit, 200))
            if not batch:
                return out, None
            for entry_id, fields in batch:
                end = f"({_s(entry_id)}"
                entry = {_s(k): _s(v) for k, v in fields.items()}
                if case_id and entry.get("case_id") != case_id:
                    continue
                details = entry.get("details") or "{}"
                out.append({"id": _s(entry_id), "at": iso(_f(entry.get("at"))),
                            "actor": entry.get("actor"), "action": entry.get("action"),
                            "case_id": entry.get("case_id") or None,
                            "details": json.loads(details)})
                if len(out) == limit:
                    return out, out[-1]["id"]
        return out, None

    async def outbox_pending(self) -> dict[str, str]:
        raw = await self.redis.hgetall(K + "outbox:pending")
        return {_s(k): _s(v) for k, v in raw.items()}

    async def mark_published(self, decision_id: str) -> bool:
        return bool(await self._mark_published(args=[decision_id, repr(self.clock())]))

    # ---- SLA, metrics and series ------------------------------------------------------------

    async def mark_breaches(self) -> int:
        """Record (once) each open case that passed its SLA due time; returns how many."""
        now = self.clock()
        return int(await self._mark_breaches(args=[repr(now), minute_of(now)]))

    async def queue_stats(self) -> dict[str, Any]:
        """Open and escalated cases by severity, SLA breaches and the oldest case's age."""
        now = self.clock()
        depth = {s: 0 for s in SEVERITY_RANK}
        breached = {s: 0 for s in SEVERITY_RANK}
        oldest = 0.0
        by_status = {}
        for zkey in ("queue", "escalated"):
            ids = [_s(i) for i in await self.redis.zrange(K + zkey, 0, -1)]
            by_status[zkey] = len(ids)
            pipe = self.redis.pipeline(transaction=False)
            for i in ids:
                pipe.hmget(f"{K}case:{i}", "severity", "created_at", "due_at")
            for sev, created, due in await pipe.execute() if ids else []:
                name = SEVERITY_NAME.get(int(_f(sev)), "low")
                depth[name] += 1
                oldest = max(oldest, now - _f(created, now))
                if _f(due, math.inf) <= now:
                    breached[name] += 1
        return {"depth": depth, "breached": breached, "oldest_age_seconds": oldest,
                "open": by_status["queue"], "escalated": by_status["escalated"],
                "breaches_total": int(_f(await self.redis.get(K + "stats:sla_breaches"))),
                "suppressed": await self.suppressed_counts(),
                "decisions": {_s(k): int(v) for k, v in
                              (await self.redis.hgetall(K + "stats:decisions")).items()}}

    async def record_sample(self) -> dict[str, Any]:
        """Mark breaches, update the Prometheus gauges and write this minute's samples."""
        from pipeline import metrics

        await self.mark_breaches()
        stats = await self.queue_stats()
        for severity in SEVERITY_RANK:
            metrics.QUEUE_DEPTH.labels(severity).set(stats["depth"][severity])
            metrics.SLA_BREACHED.labels(severity).set(stats["breached"][severity])
        metrics.QUEUE_OLDEST_AGE.set(stats["oldest_age_seconds"])
        minute = minute_of(self.clock())
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(K + "ts:queue_depth", minute, sum(stats["depth"].values()))
        pipe.hset(K + "ts:sla_breached", minute, sum(stats["breached"].values()))
        await pipe.execute()
        return stats

    async def series(self, since: float) -> dict[str, dict[str, dict[int, float]]]:
        """Per-minute series since ``since``: gauges (``queue_depth``, ``sla_breached``) and
        counts (``flags`` by detector, ``decisions`` by outcome, ``sla_breaches``)."""
        floor = int(since // 60) * 60

        def clip(raw: Mapping[Any, Any]) -> dict[int, float]:
            return {int(_s(k)): float(_s(v)) for k, v in raw.items() if int(_s(k)) >= floor}

        detectors = sorted(_s(d) for d in await self.redis.smembers(K + "ts:detectors"))
        out: dict[str, dict[str, dict[int, float]]] = {
            "queue_depth": {"open cases": clip(await self.redis.hgetall(K + "ts:queue_depth"))},
            "sla_breached": {"breached open cases": clip(await self.redis.hgetall(K + "ts:sla_breached"))},
            "sla_breaches": {"new breaches": clip(await self.redis.hgetall(K + "ts:sla_breaches"))},
            "flags": {d: clip(await self.redis.hgetall(f"{K}ts:flags:{d}")) for d in detectors},
            "decisions": {o: clip(await self.redis.hgetall(f"{K}ts:decisions:{o}")) for o in OUTCOMES},
        }
        return out

    async def trim_series(self) -> int:
        """Drop per-minute buckets older than the retention."""
        floor = self.clock() - self.config.series_retention_seconds
        detectors = [_s(d) for d in await self.redis.smembers(K + "ts:detectors")]
        keys = [K + "ts:queue_depth", K + "ts:sla_breached", K + "ts:sla_breaches",
                *[f"{K}ts:flags:{d}" for d in detectors],
                *[f"{K}ts:decisions:{o}" for o in OUTCOMES]]
        removed = 0
        for key in keys:
            old = [f for f in await self.redis.hkeys(key) if int(_s(f)) < floor]
            if old:
                removed += await self.redis.hdel(key, *old)
        return removed
