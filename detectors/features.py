"""The feature catalogue: windowed per-entity counters and lookups rules can use.

Each feature says which state it writes for an event and which it reads; the pipeline's
:class:`FeatureStore` (Redis in production, memory in ``vigil replay``) carries out the plan and
hands the raw answers back to :func:`assemble`, which computes the values. Counters include the
current event and are keyed by stable members (event ids, user ids), so a redelivered event
does not count twice. Each user's latest marketplace profile (``profile.updated``) is kept as
a small record (:mod:`detectors.profiles`) and exposed to all their events as ``profile_*``.

>>> from schemas import decode_event_obj
>>> plan = plan_features(decode_event_obj(EXAMPLE_SIGNUP))
>>> sorted(r.feature for r in plan.reads)[:3]
['_profile', '_public_profile', 'device_accounts_1h']
"""

from __future__ import annotations

import ipaddress
import re
import string
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Protocol

import numpy as np

from detectors import profiles
from detectors.normalize import normalize
from schemas.events import Envelope

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
#: How long windowed state is kept: the longest window plus slack for late events.
HORIZON = DAY + HOUR
PROFILE_TTL = 400 * DAY


# ---- the operations a store must support ----------------------------------------------------


#: One write in this many also trims the set's members older than ``HORIZON``. Reads are
#: bounded by their window anyway, so trimming only caps memory; trimming on every write was
#: a third of the Redis time of a batch.
TRIM_EVERY = 8


def trims(member: str) -> bool:
    """Whether the write of ``member`` trims its set: a fixed pick by the member's CRC-32, so
    Redis and the memory store (and a redelivery) trim at exactly the same writes."""
    return zlib.crc32(member.encode("utf-8", "surrogatepass")) % TRIM_EVERY == 0


# The operations are NamedTuples, not frozen dataclasses: a proposal's plan has ~30 of them,
# and building a frozen dataclass costs ~4x a tuple's time.


class Observe(NamedTuple):
    """Add ``member`` (at time ``at``) to the windowed set ``key``; idempotent per member.

    With ``trim`` the write also drops the set's members at or before ``at - HORIZON``.
    """

    key: str
    member: str
    at: float
    trim: bool = True


class Remember(NamedTuple):
    """Store a small record under ``key``; with ``only_if_absent`` the first write wins."""

    key: str
    value: dict[str, Any]
    only_if_absent: bool = False


class Keep(NamedTuple):
    """Store the record ``value`` (a JSON array whose first element is its time, ``at``) under
    ``key``, unless the record there is newer: the latest by event time wins, whatever order
    the writes come in (a late or replayed event never overwrites a newer record)."""

    key: str
    value: list[Any]
    at: float


class CountSince(NamedTuple):
    """Distinct members of ``key`` seen in (since, until]."""

    feature: str
    key: str
    since: float
    until: float


class SumSince(NamedTuple):
    """Sum of the numbers after the last ``|`` of the members of ``key`` seen in (since, until]."""

    feature: str
    key: str
    since: float
    until: float


class Recall(NamedTuple):
    """The record stored under ``key``, or None."""

    feature: str
    key: str


Write = Observe | Remember | Keep
Read = CountSince | SumSince | Recall


@dataclass
class FeaturePlan:
    writes: list[Write] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)


class FeatureStore(Protocol):
    """The narrow interface the pipeline implements: apply the writes, answer the reads."""

    def execute(self, plan: FeaturePlan) -> dict[str, Any]: ...


# ---- the catalogue ---------------------------------------------------------------------------


def _no_reads(event: Envelope, at: float) -> Iterable[Read]:
    return ()


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    event_types: frozenset[str]
    #: Computes the value from the event and the raw read results (keyed by read feature name).
    value: Callable[[Envelope, dict[str, Any]], Any]
    #: The reads for an event and its time (``occurred_at`` as a POSIX timestamp).
    reads: Callable[[Envelope, float], Iterable[Read]] = _no_reads
    example: Any = None
    #: For a windowed count: the key it counts in and the window (seconds); what ``reads``
    #: says too, told apart so features counting one key share its computation.
    window: tuple[Callable[[Envelope], str], float] | None = None
    #: For features computed together from one record: the function that returns all of the
    #: group's values at once, which :func:`assemble` calls once per event instead of each
    #: feature's ``value`` (the same values, for a fraction of the calls).
    group: Callable[[Envelope, dict[str, Any]], dict[str, Any]] | None = None


ALL = frozenset({
    "user.signed_up", "job_post.created", "message.sent", "proposal.submitted",
    "consent.changed", "user_report.filed", "profile.updated",
})


def _ts(event: Envelope) -> float:
    return event.occurred_at.timestamp()


def ip_prefix(ip: str) -> str:
    """The /24 of an IPv4 address (or the /48 of an IPv6 one): where account farms cluster.

    >>> ip_prefix("203.0.113.77"), ip_prefix("2001:db8:1:2::5")
    ('203.0.113.0/24', '2001:db8:1::/48')
    """
    parts = ip.split(".")
    if len(parts) == 4 and all(p.isdecimal() and len(p) <= 3 and p[0] != "0" or p == "0"
                               for p in parts) and all(int(p) <= 255 for p in parts):
        # Plain dotted-quad IPv4 (already canonical), the common case: no ipaddress objects.
        return f"{parts[0]}.{parts[1]}.{parts[2]}.0/24"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        address = None
    if address is not None:
        # Canonical form, so every spelling of one network (leading zeros, upper-case hex,
        # "::" anywhere, IPv4-mapped IPv6) lands on the same key.
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        prefix = 24 if address.version == 4 else 48
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    if ":" in ip:
        groups = (ip.split("::")[0].split(":") + ["0", "0", "0"])[:3]
        return ":".join(groups) + "::/48"
    return ".".join(ip.split(".")[:3]) + ".0/24"


# Letters and digits of any script (not only ASCII), so texts in other scripts do not all
# reduce to no words and share one fingerprint.
# ``_`` is turned into a space first: ``[\w']+`` on that is the same as ``(?:[^\W_]|')+`` on the
# text, at a third of the cost.
_WORD = re.compile(r"[\w']+")
_BANDS, _ROWS = 6, 3
# Fixed odd multipliers and offsets (multiply-shift hashing mod 2**64), so fingerprints agree
# across workers, restarts and replays.
_MULTIPLIERS = np.array([(0x9E3779B97F4A7C15 * (2 * i + 1)) % 2**64 | 1
                         for i in range(_BANDS * _ROWS)], dtype=np.uint64)
_OFFSETS = np.array([(0xBF58476D1CE4E5B9 * (i + 7)) % 2**64 for i in range(_BANDS * _ROWS)],
                    dtype=np.uint64)
#: Combines a band's minima into its key (a dot product mod 2**64, cut to 48 bits).
_BAND_MIX = np.array([0x94D049BB133111EB, 0xD6E8FEB86659FD93, 0xA0761D6478BD642F], dtype=np.uint64)
#: CRC-32 of each word seen lately. Cover letters share most of their vocabulary, so a word
#: is hashed once, not once per letter; the cache is dropped when it grows past this size.
_WORD_HASHES: dict[str, int] = {}
_WORD_CACHE_LIMIT = 1 << 18


# On ASCII text, ``[\w']+`` after lower-casing and turning ``_`` into a space finds exactly
# the runs of [a-z0-9']: a translate and a split find those ~2x faster than the regex.
_WORD_KEEP = string.ascii_lowercase + string.digits + "'"
_WORD_SEPARATE = str.maketrans({c: (c if c in _WORD_KEEP else " ") for c in map(chr, range(128))})
#: Fingerprints of texts planned lately (planning asks twice per proposal: writes, reads).
_FINGERPRINTS: dict[str, tuple[str, ...]] = {}
_FINGERPRINT_CACHE_LIMIT = 4096


def _words(text: str) -> list[str]:
    low = text.lower()
    if low.isascii():
        return low.translate(_WORD_SEPARATE).split()
    # As detection reads it: a letter padded with zero-width spaces or look-alikes is the
    # same letter (normalize() keeps plain ASCII as it is, so the branch above is unchanged).
    return _WORD.findall(normalize(text).lower().replace("_", " "))


def _word_hashes(words: list[str]) -> list[int]:
    cached = list(map(_WORD_HASHES.get, words))
    if None in cached:
        if len(_WORD_HASHES) > _WORD_CACHE_LIMIT:
            _WORD_HASHES.clear()
        for i, word in enumerate(words):
            if cached[i] is None:
                cached[i] = _WORD_HASHES[word] = zlib.crc32(word.encode("utf-8", "surrogatepass"))
    return cached  # type: ignore[return-value]


def text_fingerprints(text: str) -> tuple[str, ...]:
    """MinHash-LSH band keys of a text's word bigrams: near-identical texts share a band.

    With 6 bands of 3 rows, two letters whose bigram sets overlap 75% (a template with the
    client's name and job title swapped in) share a band 96% of the time; unrelated letters
    (overlap under 10%) almost never do. A bigram is its two words' CRC-32s side by side in
    64 bits, so letters cost a few numpy calls rather than a hash call per bigram (repeated
    bigrams need no deduplication: they cannot change a minimum).

    >>> a = text_fingerprints("Hi there, I am an expert developer with 10 years of experience in Python and Django. I can start today.")
    >>> b = text_fingerprints("Hello there, I am an expert developer with 10 years of experience in Python and Django. I can start now.")
    >>> c = text_fingerprints("Could you share the logo files in SVG format before Friday? Thanks for the quick turnaround.")
    >>> len(set(a) & set(b)) > 0, len(set(a) & set(c))
    (True, 0)
    """
    cached = _FINGERPRINTS.get(text)
    return cached if cached is not None else fingerprint_texts([text])[0]


def fingerprint_texts(texts: list[str]) -> list[tuple[str, ...]]:
    """:func:`text_fingerprints` of several texts, in one numpy pass for those not cached.

    >>> fingerprint_texts(["pay the fee", "hello"]) == [text_fingerprints("pay the fee"),
    ...                                                 text_fingerprints("hello")]
    True
    """
    unique = list(dict.fromkeys(texts))
    todo = [t for t in unique if t not in _FINGERPRINTS]
    if todo:
        if len(_FINGERPRINTS) + len(todo) > _FINGERPRINT_CACHE_LIMIT:
            kept = {t: _FINGERPRINTS[t] for t in unique if t in _FINGERPRINTS}
            _FINGERPRINTS.clear()
            _FINGERPRINTS.update(kept)
        _FINGERPRINTS.update(zip(todo, _minhash(todo)))
    return [_FINGERPRINTS[t] for t in texts]


def _minhash(texts: list[str]) -> list[tuple[str, ...]]:
    hashes: list[int] = []
    counts: list[int] = []  # words per text
    for text in texts:
        words = _words(text)
        if len(words) < 2:  # no bigram: the whole (short) text is the one shingle
            words = [" ".join(words), ""]
        hashes += _word_hashes(words)
        counts.append(len(words))
    words_of_all = np.array(hashes, dtype=np.uint64)
    pairs = (words_of_all[:-1] << np.uint64(32)) | words_of_all[1:]
    ends = np.cumsum(counts)
    keep = np.ones(len(pairs), dtype=bool)
    keep[ends[:-1] - 1] = False  # a pair of one text's last word and the next text's first
    shingles = pairs[keep]
    starts = np.zeros(len(texts), dtype=np.intp)
    np.cumsum(np.array(counts[:-1], dtype=np.intp) - 1, out=starts[1:])
    # One row per hash function; uint64 arithmetic wraps, which is what multiply-shift wants.
    hashed = np.outer(_MULTIPLIERS, shingles)
    hashed += _OFFSETS[:, None]
    minima = np.minimum.reduceat(hashed, starts, axis=1).T  # one row per text
    keys = (minima.reshape(len(texts), _BANDS, _ROWS) * _BAND_MIX).sum(axis=2) >> np.uint64(16)
    return [tuple(f"{band}:{key:012x}" for band, key in enumerate(row)) for row in keys.tolist()]


def _count(name: str, description: str, types: Iterable[str], key: Callable[[Envelope], str],
           seconds: float, example: int) -> Feature:
    return Feature(
        name=name, description=description, event_types=frozenset(types),
        reads=lambda e, at: (CountSince(name, key(e), at - seconds, at),),
        value=lambda e, raw: int(raw.get(name) or 0), example=example, window=(key, seconds),
    )


def _user_events(e: Envelope) -> str:
    return f"user:{e.subject_id}:events"


def _device(e: Envelope) -> str:
    return f"device:{e.payload.device_id}:accounts"  # type: ignore[attr-defined]


def _ip24(e: Envelope) -> str:
    return f"ip24:{ip_prefix(e.payload.ip)}:accounts"  # type: ignore[attr-defined]


def _recipients(e: Envelope) -> str:
    return f"sender:{e.subject_id}:recipients"


def _strangers(e: Envelope) -> str:
    return f"sender:{e.subject_id}:strangers"


def _proposals(e: Envelope) -> str:
    return f"freelancer:{e.subject_id}:proposals"


def _connects(e: Envelope) -> str:
    return f"freelancer:{e.subject_id}:connects"


def _profile(user_id: str) -> str:
    return f"user:{user_id}:profile"


def _job(job_id: str) -> str:
    return f"job:{job_id}"


def _public_profile(user_id: str) -> str:
    return f"user:{user_id}:public:1"  # the record layout's version: see detectors.profiles


def _cover_letter_keys(e: Envelope) -> list[str]:
    return [f"freelancer:{e.subject_id}:letter:{band}"
            for band in text_fingerprints(e.payload.cover_letter)]  # type: ignore[attr-defined]


def _payload_field(e: Envelope, name: str) -> Any:
    """A payload field if this event type has it, else None: a model's fields are in its
    ``__dict__``, and ``getattr`` with a default pays for pydantic raising AttributeError."""
    return vars(e.payload).get(name)


def _account_age(e: Envelope, raw: dict[str, Any]) -> float:
    profile = raw.get("_profile") or {}
    signed_up = profile.get("signed_up_at")
    return -1.0 if signed_up is None else max(0.0, _ts(e) - float(signed_up))


#: The raw read of each cover-letter band (``_max_letter_jobs`` takes their maximum).
_LETTER_READS = tuple(f"_letter_{i}" for i in range(_BANDS))


def _max_letter_jobs(e: Envelope, raw: dict[str, Any]) -> int:
    return max((int(raw.get(name) or 0) for name in _LETTER_READS), default=0)


SIGNUP, JOB, MESSAGE, PROPOSAL = "user.signed_up", "job_post.created", "message.sent", "proposal.submitted"
PROFILE = "profile.updated"
#: The last profile.updated event whose own record was made, and the record: every profile
#: feature of that event reads it, so it is encoded once, not once per feature.
_OWN_RECORD: list[Any] = [None, None]


def _profile_record(e: Envelope, raw: dict[str, Any]) -> list[Any] | None:
    """The profile the features describe: a profile.updated event's own, else the subject's
    latest stored one (None if Vigil has seen none)."""
    if e.type != PROFILE:
        return raw.get("_public_profile")  # type: ignore[no-any-return]
    if _OWN_RECORD[0] is not e:
        _OWN_RECORD[:] = [e, profiles.encode(e.payload, _ts(e))]  # type: ignore[arg-type]
    return _OWN_RECORD[1]  # type: ignore[no-any-return]


#: Every profile feature's value when no profile is known.
_NO_PROFILE: dict[str, Any] = {"profile_known": False, **{
    f"profile_{name}": profiles.value(None, name) for name, _, _ in profiles.LAYOUT[1:]}}


def _profile_values(e: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
    """All the profile features of an event at once (most events' users have none known)."""
    record = _profile_record(e, raw)
    if record is None:
        return _NO_PROFILE
    values = {f"profile_{name}": profiles.value(record, name) for name, _, _ in profiles.LAYOUT[1:]}
    values["profile_known"] = True
    return values


def _profile_feature(name: str, description: str, **options: Any) -> Feature:
    feature = f"profile_{name}"
    example = profiles.value(profiles.EXAMPLE_RECORD, name) if name != "known" else True
    return Feature(feature, description, ALL, value=lambda e, raw: _profile_values(e, raw)[feature],
                   example=example, group=_profile_values, **options)


def _profile_features() -> tuple[Feature, ...]:
    known = _profile_feature(
        "known", "Whether Vigil has seen the subject's marketplace profile (profile.updated).",
        reads=lambda e, at: (() if e.type == PROFILE else
                             (Recall("_public_profile", _public_profile(e.subject_id)),)))
    fields = [_profile_feature(name, f"The subject's latest marketplace profile: {meaning}.")
              for name, meaning, _ in profiles.LAYOUT[1:]]
    return (known, *fields)

CATALOGUE: tuple[Feature, ...] = (
    _count("user_events_1m", "Events by the subject in the last minute (this one included).", ALL, _user_events, MINUTE, 3),
    _count("user_events_1h", "Events by the subject in the last hour.", ALL, _user_events, HOUR, 12),
    _count("user_events_24h", "Events by the subject in the last 24 hours.", ALL, _user_events, DAY, 40),
    _count("device_accounts_1h", "Distinct accounts signed up from this device in the last hour.", [SIGNUP], _device, HOUR, 1),
    _count("device_accounts_24h", "Distinct accounts signed up from this device in the last 24 hours.", [SIGNUP], _device, DAY, 1),
    _count("ip24_accounts_1h", "Distinct accounts signed up from this IP's /24 in the last hour.", [SIGNUP], _ip24, HOUR, 1),
    _count("ip24_accounts_24h", "Distinct accounts signed up from this IP's /24 in the last 24 hours.", [SIGNUP], _ip24, DAY, 2),
    _count("sender_recipients_1h", "Distinct recipients the sender messaged in the last hour.", [MESSAGE], _recipients, HOUR, 2),
    _count("sender_strangers_1h", "Distinct recipients the sender messaged without an active contract in the last hour.", [MESSAGE], _strangers, HOUR, 1),
    _count("freelancer_proposals_10m", "Proposals the freelancer submitted in the last 10 minutes.", [PROPOSAL], _proposals, 10 * MINUTE, 1),
    Feature(
        "freelancer_connects_24h", "Connects the freelancer spent on proposals in the last 24 hours.",
        frozenset([PROPOSAL]), reads=lambda e, at: (SumSince("freelancer_connects_24h", _connects(e), at - DAY, at),),
        value=lambda e, raw: int(raw.get("freelancer_connects_24h") or 0), example=16,
    ),
    Feature(
        "freelancer_connects_1h", "Connects the freelancer spent on proposals in the last hour.",
        frozenset([PROPOSAL]), reads=lambda e, at: (SumSince("freelancer_connects_1h", _connects(e), at - HOUR, at),),
        value=lambda e, raw: int(raw.get("freelancer_connects_1h") or 0), example=8,
    ),
    Feature(
        "similar_cover_letter_jobs_24h",
        "Distinct jobs this freelancer sent a near-identical cover letter to in the last 24 hours (SimHash bands).",
        frozenset([PROPOSAL]),
        reads=lambda e, at: [CountSince(name, key, at - DAY, at)
                             for name, key in zip(_LETTER_READS, _cover_letter_keys(e))],
        value=_max_letter_jobs, example=1,
    ),
    Feature(
        "account_age_seconds", "Seconds since the subject signed up (-1 if Vigil never saw the signup).",
        ALL, reads=lambda e, at: (Recall("_profile", _profile(e.subject_id)),), value=_account_age, example=86400.0,
    ),
    Feature(
        "subject_phone_verified", "Whether the subject verified a phone number at signup (false if unknown).",
        ALL, value=lambda e, raw: bool(((raw.get("_profile") or {}).get("phone_verified")) or
                                       _payload_field(e, "phone_verified")), example=True,
    ),
    Feature(
        "subject_id_verified", "Whether the subject verified their identity at signup (false if unknown).",
        ALL, value=lambda e, raw: bool(((raw.get("_profile") or {}).get("id_verified")) or
                                       _payload_field(e, "id_verified")), example=False,
    ),
    Feature(
        "email_domain", "The lower-cased domain of the signup email.",
        frozenset([SIGNUP]), value=lambda e, raw: e.payload.email.rsplit("@", 1)[-1].lower(),  # type: ignore[attr-defined]
        example="example.com",
    ),
    Feature(
        "active_contract", "Whether sender and recipient have an active contract (from the message).",
        frozenset([MESSAGE]), value=lambda e, raw: bool(e.payload.has_active_contract), example=False,  # type: ignore[attr-defined]
    ),
    Feature(
        "job_known", "Whether Vigil has seen the job post this proposal answers.",
        frozenset([PROPOSAL]), reads=lambda e, at: (Recall("_job", _job(e.payload.job_id)),),  # type: ignore[attr-defined]
        value=lambda e, raw: raw.get("_job") is not None, example=True,
    ),
    Feature(
        "job_genai_restricted", "Whether the client of the job this proposal answers restricts generative AI.",
        frozenset([PROPOSAL]), value=lambda e, raw: bool((raw.get("_job") or {}).get("genai_restricted")), example=False,
    ),
    Feature(
        "job_client_id", "The client who posted the job this proposal answers ('' if unknown).",
        frozenset([PROPOSAL]), value=lambda e, raw: str((raw.get("_job") or {}).get("client_id", "")), example="u42",
    ),
    *_profile_features(),
)

FEATURES: dict[str, Feature] = {f.name: f for f in CATALOGUE}
#: The catalogue entries of each event type, in catalogue order.
_BY_TYPE: dict[str, tuple[Feature, ...]] = {
    kind: tuple(f for f in CATALOGUE if kind in f.event_types)
    for kind in set().union(*(f.event_types for f in CATALOGUE))
}
#: How :func:`assemble` computes each type's values: the features on their own, then each
#: group's function once.
_SINGLE: dict[str, tuple[Feature, ...]] = {
    kind: tuple(f for f in features if f.group is None) for kind, features in _BY_TYPE.items()}
_GROUPS: dict[str, tuple[Callable[[Envelope, dict[str, Any]], dict[str, Any]], ...]] = {
    kind: tuple(dict.fromkeys(f.group for f in features if f.group is not None))
    for kind, features in _BY_TYPE.items()}


def plan_writes(event: Envelope, at: float | None = None) -> list[Write]:
    """State an event adds; shared by every feature so each write happens once."""
    at = _ts(event) if at is None else at
    p, t = event.payload, event.type
    writes: list[Write] = [_observe(_user_events(event), event.id, at)]
    if t == SIGNUP:
        writes += [
            _observe(_device(event), event.subject_id, at),
            _observe(_ip24(event), event.subject_id, at),
            Remember(_profile(event.subject_id), {
                "signed_up_at": at, "account_type": p.account_type,  # type: ignore[attr-defined]
                "phone_verified": p.phone_verified, "id_verified": p.id_verified,  # type: ignore[attr-defined]
            }, only_if_absent=True),
        ]
    elif t == MESSAGE:
        writes.append(_observe(_recipients(event), p.recipient_id, at))  # type: ignore[attr-defined]
        if not p.has_active_contract:  # type: ignore[attr-defined]
            writes.append(_observe(_strangers(event), p.recipient_id, at))  # type: ignore[attr-defined]
    elif t == JOB:
        writes.append(Remember(_job(p.job_id), {  # type: ignore[attr-defined]
            "client_id": p.client_id, "genai_restricted": p.genai_restricted,  # type: ignore[attr-defined]
            "budget_type": p.budget_type, "budget_amount": p.budget_amount,  # type: ignore[attr-defined]
        }))
    elif t == PROFILE:
        writes.append(Keep(_public_profile(event.subject_id),
                           profiles.encode(p, at), at))  # type: ignore[arg-type]
    elif t == PROPOSAL:
        writes += [
            _observe(_proposals(event), event.id, at),
            _observe(_connects(event), f"{event.event_id}|{p.connects_spent}", at),  # type: ignore[attr-defined]
        ]
        writes += [_observe(key, p.job_id, at) for key in _cover_letter_keys(event)]  # type: ignore[attr-defined]
    return writes


def _observe(key: str, member: str, at: float) -> Observe:
    return _tuple(Observe, (key, member, at, trims(member)))  # type: ignore[no-any-return]


def plan_batch(events: Iterable[Envelope]) -> list[FeaturePlan]:
    """:func:`plan_features` of each event; the batch's cover letters are fingerprinted in one
    numpy pass first (~2x cheaper per letter than one by one)."""
    events = list(events)
    letters = [e.payload.cover_letter for e in events if e.type == PROPOSAL]  # type: ignore[attr-defined]
    if letters:
        fingerprint_texts(letters)
    return [plan_features(event) for event in events]


def _read_steps(features: tuple[Feature, ...]) -> tuple[tuple[Any, Any], ...]:
    """How to plan the reads of these features: windowed counts grouped by the key they count
    in (one key computed for several windows), the others by their ``reads``."""
    steps: list[tuple[Any, Any]] = []
    groups: dict[Any, list[tuple[str, float]]] = {}
    for feature in features:
        if feature.window is None:
            if feature.reads is not _no_reads:  # most read nothing of their own
                steps.append((None, feature))
            continue
        key, seconds = feature.window
        if key not in groups:
            groups[key] = []
            steps.append((key, groups[key]))
        groups[key].append((feature.name, seconds))
    return tuple((key, tuple(rest) if key is not None else rest) for key, rest in steps)


_READ_STEPS = {kind: _read_steps(features) for kind, features in _BY_TYPE.items()}
_tuple = tuple.__new__  # the operations' NamedTuple __new__ without its extra Python call


def plan_features(event: Envelope) -> FeaturePlan:
    """Everything the store must write and read for this event, each read once."""
    at = _ts(event)
    reads: list[Read] = []
    seen: set[str] = set()
    for key, step in _READ_STEPS.get(event.type, ()):
        if key is not None:
            counted = key(event)
            reads += [_tuple(CountSince, (name, counted, at - seconds, at))
                      for name, seconds in step]
            continue
        for read in step.reads(event, at):
            if read.feature not in seen:
                seen.add(read.feature)
                reads.append(read)
    return FeaturePlan(writes=plan_writes(event, at), reads=reads)


def assemble(event: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
    """Feature values for this event from the store's raw answers."""
    values = {f.name: f.value(event, raw) for f in _SINGLE.get(event.type, ())}
    for group in _GROUPS.get(event.type, ()):
        values.update(group(event, raw))
    return values


def example_features(event_type: str) -> dict[str, Any]:
    """Typical values of every feature of an event type: the defaults rule examples start from."""
    return {f.name: f.example for f in CATALOGUE if event_type in f.event_types}


EXAMPLE_SIGNUP: dict[str, Any] = {
    "event_id": "3b9b0c8e-8a51-4d5e-9a3c-0f7d0d1a2b3c", "type": "user.signed_up",
    "schema_version": "1.0", "occurred_at": "2026-01-05T09:00:00Z", "producer": "accounts",
    "subject_id": "u1", "payload": {
        "user_id": "u1", "account_type": "freelancer", "email": "ana@example.com",
        "ip": "203.0.113.7", "device_id": "d1", "country": "PT", "user_agent": "Mozilla/5.0",
        "signup_duration_ms": 42000, "username": "ana", "display_name": "Ana"},
}
