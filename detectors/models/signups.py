"""Fake accounts, at signup and in their marketplace profile: an anomaly score until labels
arrive, then supervised.

The model scores two event types. A ``user.signed_up`` is judged on how the account was made
(signup speed, verification, email kind, accounts per device and /24, the masked bio). A
``profile.updated`` is judged on the profile the account then shows, as the feature catalogue
describes it (``profile_*``: rate, skills, portfolio, completed jobs, job success score,
reviews, badge, earnings, followers and following, photo, video, verification; the account's
age and signup verification) plus the masked overview and headline: a fake account is often
only visible once it fills in a profile. Every input carries its kind (``kind=signup`` or
``kind=profile``), so the supervised part learns each its own bias.

Before the supervised part has ``min_labels_per_class`` labels of each class, each kind is
scored by its own :class:`~detectors.models.anomaly.AnomalyPart` (Half-Space Trees over the
numeric features, fed through :meth:`FakeSignupModel.observe` with every consented event it
scores): signups and profiles are different populations, and one's outliers say nothing about
the other's. A part fires on the most unusual ``anomaly_alert_rate`` of its kind once it has
seen two windows; its explanation lists the features furthest from the usual. Once labelled,
the logistic regression takes over: anomaly is not fraud (on cresci-2015, where fakes are half
the rows and all alike, the genuine accounts are the anomalies), so labels win as soon as
there are enough.

Only named catalogue features are read (:data:`SIGNUP_READS`, :data:`PROFILE_READS`), and
every numeric input is one of :data:`NUMERIC_FEATURES`; nothing else a caller passes in
reaches the model.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> model = FakeSignupModel(b"doctest-key-0123456789")
>>> x = model.featurize(decode_event_obj(example_event("user.signed_up")), {"device_accounts_24h": 6})
>>> x["device_accounts_24h"] > 0.5, any(k.startswith("email_domain=") for k in x), "ana" in str(x)
(True, True, False)
>>> profile = decode_event_obj(example_event("profile.updated", {"overview": "Ana S. here."}))
>>> x = model.featurize(profile, {"profile_completed_jobs": 12, "profile_known": True})
>>> x["kind=profile"], x["profile_completed_jobs"] > 0, "profile:w:<name>" in x
(1.0, True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import re2

from detectors.models.anomaly import AnomalyPart
from detectors.models.base import TOP_FEATURES, LogisticModel, ModelInput
from detectors.models.text import account_features, flag, log_scale, text_features
from detectors.privacy import keyed_hash
from detectors.profiles import BADGES, MONEY_BANDS
from schemas.events import Envelope

FREEMAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "outlook.com", "hotmail.com", "live.com",
    "icloud.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de", "mail.ru",
    "yandex.ru", "yandex.com", "qq.com", "163.com", "zoho.com",
})
DISPOSABLE = frozenset({
    "mailinator.com", "guerrillamail.com", "10minutemail.com", "temp-mail.org", "tempmail.com",
    "yopmail.com", "sharklasers.com", "trashmail.com", "getnada.com", "dispostable.com",
    "maildrop.cc", "throwawaymail.com",
})
_AUTOMATION = re2.compile(r"(?i)headless|phantomjs|selenium|puppeteer|playwright|python|curl|wget|"
                          r"okhttp|java/|go-http|bot\b|spider|scrapy")
SIGNUP, PROFILE = "user.signed_up", "profile.updated"

#: The catalogue features a signup's input reads.
SIGNUP_READS: tuple[str, ...] = (
    "device_accounts_1h", "device_accounts_24h", "ip24_accounts_1h", "ip24_accounts_24h")
#: The catalogue features a profile update's input reads (the profile itself and the account).
PROFILE_READS: tuple[str, ...] = (
    "profile_hourly_rate", "profile_skills", "profile_portfolio_items",
    "profile_completed_jobs", "profile_job_success_score", "profile_rating", "profile_reviews",
    "profile_badge", "profile_total_earnings_band", "profile_followers", "profile_following",
    "profile_has_photo", "profile_has_video_intro", "profile_identity_verified",
    "profile_phone_verified", "profile_payment_verified", "profile_jobs_posted",
    "profile_hires", "profile_total_spent_band", "profile_overview_length",
    "profile_headline_length", "account_age_seconds", "subject_phone_verified",
    "subject_id_verified")

#: Every numeric input (a number in [0, 1]; words and one-hot categories are not numeric) of
#: each kind: what the anomaly parts see, in this order.
SIGNUP_NUMERIC: tuple[str, ...] = (
    "bio_length", "bio_empty", "bio_contacts", "has_photo", "phone_verified", "id_verified",
    "signup_seconds", "signup_under_5s", "username_length", "username_digit_frac",
    "display_name_words", "display_name_has_digits", "display_name_is_username",
    "email_freemail", "email_disposable", "email_local_digit_frac", "user_agent_automation",
    "user_agent_empty", "device_accounts_1h", "device_accounts_24h", "ip24_accounts_1h",
    "ip24_accounts_24h")
PROFILE_NUMERIC: tuple[str, ...] = (
    "profile_hourly_rate", "profile_rate_missing", "profile_skills", "profile_portfolio_items",
    "profile_completed_jobs", "profile_job_success", "profile_jss_missing", "profile_rating",
    "profile_reviews", "profile_earnings_level", "profile_spent_level", "profile_followers",
    "profile_following", "profile_following_per_follower", "profile_has_photo",
    "profile_has_video_intro", "profile_identity_verified", "profile_phone_verified",
    "profile_payment_verified", "profile_jobs_posted", "profile_hires", "profile_hire_rate",
    "profile_overview_length", "profile_overview_empty", "profile_headline_length",
    "profile_contacts", "account_unknown", "account_new_1d", "account_age_days",
    "phone_verified", "id_verified")
NUMERIC_FEATURES: tuple[str, ...] = tuple(dict.fromkeys(SIGNUP_NUMERIC + PROFILE_NUMERIC))
#: The families of non-numeric inputs: masked words, hashed or one-hot categories.
CATEGORICAL_PREFIXES: tuple[str, ...] = (
    "kind=", "bio:w:", "profile:w:", "email_domain=", "account_type=", "country=",
    "profile_badge=")


def _numeric(key: str) -> bool:
    """Keys the anomaly parts see: numbers in [0, 1], not words or one-hot categories."""
    return ":" not in key and "=" not in key


def _number(value: object, default: float = 0.0) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return out if out == out else default  # NaN is missing


def _letters(text: str) -> str:
    return "".join(filter(str.isalnum, text.lower()))


def _mask_name(text: str, name: str) -> str:
    """``text`` with every occurrence of ``name``, in any case, replaced by `` <name> ``.

    >>> _mask_name("Ana here: ANA, anab.", "ana")
    ' <name>  here:  <name> ,  <name> b.'
    >>> _mask_name("I'm ŁUKASZ", "łukasz")  # not ASCII: RE2's case folding decides
    "I'm  <name> "
    """
    if not text:
        return text
    if not (text.isascii() and name.isascii()):
        return re2.compile("(?i)" + re2.escape(name)).sub(" <name> ", text)
    # All ASCII: RE2's case-insensitive match is then a match of lower() (only the Kelvin sign
    # and the long s fold onto ASCII letters), and lower() keeps every offset. Compiling an RE2
    # pattern per name cost ~15 us a name per signup, and most bios do not hold the name.
    low, needle = text.lower(), name.lower()
    at = low.find(needle)
    if at < 0:
        return text
    parts, start = [], 0
    while at >= 0:  # leftmost, non-overlapping: as re2's sub
        parts += (text[start:at], " <name> ")
        start = at + len(needle)
        at = low.find(needle, start)
    parts.append(text[start:])
    return "".join(parts)


def _masked(text: str, names: set[str]) -> str:
    """``text`` with each of the user's own ``names`` (3 characters or more) made ``<name>``."""
    for name in names:
        if len(name) >= 3:
            text = _mask_name(text, name)
    return text


class FakeSignupModel(LogisticModel):
    id: ClassVar[str] = "signup.fake_account_model"
    version: ClassVar[str] = "2"
    description: ClassVar[str] = (
        "Fake-account model for signups and marketplace profiles: Half-Space Trees anomaly "
        "scores, one per kind (signup behaviour: accounts per device and /24, signup speed, "
        "verification, email kind; the profile: history, reviews, followers, photo, "
        "verification), until enough analyst labels arrive, then an online logistic "
        "regression that adds the masked bio, overview and headline.")
    event_types: ClassVar[frozenset[str]] = frozenset({SIGNUP, PROFILE})
    text_fields: ClassVar[frozenset[str] | None] = frozenset(
        {"bio", "username", "display_name", "overview", "headline"})
    short_name: ClassVar[str] = "fake account"
    observes_unlabelled: ClassVar[bool] = True

    def __init__(self, hash_key: bytes, *, anomaly_alert_rate: float = 0.02,
                 window_size: int = 250, n_trees: int = 15, height: int = 8, seed: int = 7,
                 **kwargs: Any) -> None:
        super().__init__(hash_key, **kwargs)
        self.anomaly_alert_rate = anomaly_alert_rate
        self.window_size = window_size
        options = dict(alert_rate=anomaly_alert_rate, window_size=window_size, n_trees=n_trees,
                       height=height, seed=seed)
        self._parts = {"signup": AnomalyPart(SIGNUP_NUMERIC, **options),  # type: ignore[arg-type]
                       "profile": AnomalyPart(PROFILE_NUMERIC, **options)}  # type: ignore[arg-type]

    @property
    def n_observed(self) -> int:
        return sum(part.n_observed for part in self._parts.values())

    # ---- features --------------------------------------------------------------------------

    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        if event.type == PROFILE:
            return self._profile_input(event, features)
        return self._signup_input(event, features)

    def _signup_input(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        p = event.payload
        username: str = getattr(p, "username", "") or ""
        display_name: str = getattr(p, "display_name", "") or ""
        email: str = getattr(p, "email", "") or ""
        # The subject's own names are masked in the bio too, so they cannot become tokens.
        bio = _masked(getattr(p, "bio", "") or "",
                      {username, display_name, *display_name.split(), email.split("@")[0]})
        x = {f"bio:{k}": v for k, v in text_features(bio, bigrams=False).items()}
        x["kind=signup"] = 1.0
        x["bio_length"] = min(len(bio), 1000) / 1000  # text_shape's length, the only part used
        x["bio_empty"] = 0.0 if bio.strip() else 1.0
        x["bio_contacts"] = min(sum(k.startswith("bio:w:<") for k in x), 3) / 3
        x["has_photo"] = flag(getattr(p, "has_photo", False))
        x["phone_verified"] = flag(getattr(p, "phone_verified", False))
        x["id_verified"] = flag(getattr(p, "id_verified", False))
        seconds = (getattr(p, "signup_duration_ms", 0) or 0) / 1000
        x["signup_seconds"] = log_scale(seconds, 3600)
        x["signup_under_5s"] = 1.0 if 0 < seconds < 5 else 0.0
        x["username_length"] = min(len(username), 32) / 32
        x["username_digit_frac"] = sum(map(str.isdigit, username)) / max(len(username), 1)
        x["display_name_words"] = min(len(display_name.split()), 5) / 5
        x["display_name_has_digits"] = 1.0 if any(map(str.isdigit, display_name)) else 0.0
        x["display_name_is_username"] = (
            1.0 if username and _letters(display_name) == _letters(username) else 0.0)
        local, _, domain = email.lower().rpartition("@")
        x["email_freemail"] = 1.0 if domain in FREEMAIL else 0.0
        x["email_disposable"] = 1.0 if domain in DISPOSABLE else 0.0
        x["email_local_digit_frac"] = sum(map(str.isdigit, local)) / max(len(local), 1)
        if domain:
            # Which domain, as a keyed hash: the model can learn a farm's domain, nobody can
            # read it back out of the weights.
            x[f"email_domain={keyed_hash(domain, self._hash_key)}"] = 1.0
        x[f"account_type={getattr(p, 'account_type', 'unknown')}"] = 1.0
        x[f"country={getattr(p, 'country', 'ZZ')}"] = 1.0
        agent = getattr(p, "user_agent", "") or ""
        x["user_agent_automation"] = 1.0 if _AUTOMATION.search(agent) else 0.0
        x["user_agent_empty"] = 0.0 if agent.strip() else 1.0
        x["device_accounts_1h"] = log_scale(features.get("device_accounts_1h"), 20)
        x["device_accounts_24h"] = log_scale(features.get("device_accounts_24h"), 20)
        x["ip24_accounts_1h"] = log_scale(features.get("ip24_accounts_1h"), 50)
        x["ip24_accounts_24h"] = log_scale(features.get("ip24_accounts_24h"), 50)
        return x

    def _profile_input(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        """The profile's numbers from the catalogue's ``profile_*`` features; its texts (the
        overview and headline, masked, the user's own name too) from the event."""
        p = event.payload
        display_name: str = getattr(p, "display_name", "") or ""
        text = _masked(f"{getattr(p, 'headline', '')}\n{getattr(p, 'overview', '')}",
                       {display_name, *display_name.split()})
        x = {f"profile:{k}": v for k, v in text_features(text, bigrams=False).items()}
        f = features.get
        x["kind=profile"] = 1.0
        rate = _number(f("profile_hourly_rate"), -1.0)
        x["profile_hourly_rate"] = log_scale(rate, 1000)
        x["profile_rate_missing"] = 1.0 if rate < 0 else 0.0
        x["profile_skills"] = min(_number(f("profile_skills")), 20) / 20
        x["profile_portfolio_items"] = log_scale(f("profile_portfolio_items"), 100)
        x["profile_completed_jobs"] = log_scale(f("profile_completed_jobs"), 10_000)
        jss = _number(f("profile_job_success_score"), -1.0)
        x["profile_job_success"] = min(jss, 100) / 100 if jss >= 0 else 0.0
        x["profile_jss_missing"] = 1.0 if jss < 0 else 0.0
        rating = _number(f("profile_rating"), -1.0)
        x["profile_rating"] = (min(rating, 5) - 1) / 4 if rating >= 1 else 0.0
        x["profile_reviews"] = log_scale(f("profile_reviews"), 10_000)
        badge = f("profile_badge")
        if badge in BADGES:
            x[f"profile_badge={badge}"] = 1.0
        x["profile_earnings_level"] = _band(f("profile_total_earnings_band"))
        x["profile_spent_level"] = _band(f("profile_total_spent_band"))
        followers, following = _number(f("profile_followers")), _number(f("profile_following"))
        x["profile_followers"] = log_scale(followers, 1_000_000)
        x["profile_following"] = log_scale(following, 100_000)
        x["profile_following_per_follower"] = log_scale(following / (max(followers, 0) + 1), 100)
        for name in ("has_photo", "has_video_intro", "identity_verified", "phone_verified",
                     "payment_verified"):
            x[f"profile_{name}"] = flag(f(f"profile_{name}", False))
        posted, hires = _number(f("profile_jobs_posted")), _number(f("profile_hires"))
        x["profile_jobs_posted"] = log_scale(posted, 1000)
        x["profile_hires"] = log_scale(hires, 1000)
        x["profile_hire_rate"] = min(hires / posted, 1.0) if posted > 0 else 0.0
        overview = _number(f("profile_overview_length"))
        x["profile_overview_length"] = min(overview, 5000) / 5000
        x["profile_overview_empty"] = 0.0 if overview > 0 else 1.0
        x["profile_headline_length"] = min(_number(f("profile_headline_length")), 150) / 150
        x["profile_contacts"] = min(sum(k.startswith("profile:w:<") and k != "profile:w:<name>"
                                        for k in x), 3) / 3
        country = getattr(p, "country", None)
        if country:
            x[f"country={country}"] = 1.0
        x[f"account_type={getattr(p, 'account_type', 'unknown')}"] = 1.0
        x.update(account_features(features))
        return x

    # ---- modes -----------------------------------------------------------------------------

    def _part(self, x: ModelInput) -> AnomalyPart:
        return self._parts["profile" if "kind=profile" in x else "signup"]

    @property
    def current_mode(self) -> str:
        if self.ready:
            return "supervised"
        return "anomaly" if any(part.warm for part in self._parts.values()) else "cold"

    def threshold_for(self, mode: str) -> float:
        # An anomaly part's score is 0.5 at its kind's alert quantile.
        return 0.5 if mode == "anomaly" else self.threshold

    def _score(self, x: ModelInput) -> float:
        if self.current_mode == "anomaly":
            return self._part(x).score(x)
        return super()._score(x)

    def _explain(self, x: ModelInput) -> tuple[float, dict[str, Any]]:
        if self.current_mode != "anomaly":
            return super()._explain(x)
        part = self._part(x)
        numeric = {k: v for k, v in x.items() if _numeric(k)}
        return part.score(x), {"mode": "anomaly", "top_features": part.unusual(numeric, TOP_FEATURES)}

    def observe(self, x: ModelInput) -> None:
        """Learn the usual signup or profile from an unlabelled (consented) one."""
        self._part(x).observe(x)


def _band(value: object) -> float:
    """A money band's rank in [0, 1] (unknown bands count as none)."""
    return MONEY_BANDS.index(value) / (len(MONEY_BANDS) - 1) if value in MONEY_BANDS else 0.0  # type: ignore[arg-type]
