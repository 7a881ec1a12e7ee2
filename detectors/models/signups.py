"""Fake signups: profile and signup behaviour; an anomaly score until labels arrive, then supervised.

Before the supervised part has ``min_labels_per_class`` labels of each class, the model scores
with river's Half-Space Trees over the numeric profile and behaviour features (fed through
:meth:`FakeSignupModel.observe` with every consented signup it scores). Raw Half-Space Trees
scores have no fixed scale, so the model fires on the most anomalous ``anomaly_alert_rate`` of
signups (a running quantile of the scores it has observed), once it has seen two windows
(one to fill the trees' reference mass, one to calibrate the quantile). Its explanation then
lists the features furthest from what the model usually sees. Once labelled, the logistic
regression takes over: anomaly is not fraud (on cresci-2015, where fakes are half the rows and
all alike, the genuine accounts are the anomalies), so labels win as soon as there are enough.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> model = FakeSignupModel(b"doctest-key-0123456789")
>>> x = model.featurize(decode_event_obj(example_event("user.signed_up")), {"device_accounts_24h": 6})
>>> x["device_accounts_24h"] > 0.5, any(k.startswith("email_domain=") for k in x), "ana" in str(x)
(True, True, False)
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import re2
from river import anomaly, stats

from detectors.models.base import TOP_FEATURES, LogisticModel, ModelInput
from detectors.models.text import flag, log_scale, text_features
from detectors.privacy import keyed_hash
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
#: Enrichment features a platform may supply with a signup (none are computed by Vigil today).
PROFILE_PREFIX = "profile_"


def _numeric(key: str) -> bool:
    """Keys the anomaly part sees: numbers in [0, 1], not words or one-hot categories."""
    return ":" not in key and "=" not in key


def _numeric_part(x: ModelInput) -> ModelInput:
    """The items of ``x`` the anomaly part sees (:func:`_numeric`, inlined: a call per key
    costs more than the test)."""
    return {k: v for k, v in x.items() if ":" not in k and "=" not in k}


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


class FakeSignupModel(LogisticModel):
    id: ClassVar[str] = "signup.fake_account_model"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = (
        "Fake-account model for signups: Half-Space Trees anomaly score on profile and signup "
        "behaviour (accounts per device and /24, signup speed, verification, email kind) until "
        "enough analyst labels arrive, then an online logistic regression that adds the masked bio.")
    event_types: ClassVar[frozenset[str]] = frozenset({"user.signed_up"})
    short_name: ClassVar[str] = "fake signup"
    observes_unlabelled: ClassVar[bool] = True

    def __init__(self, hash_key: bytes, *, anomaly_alert_rate: float = 0.02,
                 window_size: int = 250, n_trees: int = 15, height: int = 8, seed: int = 7,
                 **kwargs: Any) -> None:
        super().__init__(hash_key, **kwargs)
        self.anomaly_alert_rate = anomaly_alert_rate
        self._score_quantile = stats.Quantile(1.0 - anomaly_alert_rate)
        self.window_size = window_size
        self.n_trees = n_trees
        self.height = height
        self.seed = seed
        self.n_observed = 0
        self._hst = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height,
                                           window_size=window_size, seed=seed)
        #: Running mean and variance (Welford: n, mean, M2) per numeric feature, to explain
        #: anomaly scores as "this value is far from the usual".
        self._stats: dict[str, list[float]] = {}

    # ---- features --------------------------------------------------------------------------

    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        p = event.payload
        username: str = getattr(p, "username", "") or ""
        display_name: str = getattr(p, "display_name", "") or ""
        email: str = getattr(p, "email", "") or ""
        bio: str = getattr(p, "bio", "") or ""
        # The subject's own names are masked in the bio too, so they cannot become tokens.
        for name in {username, display_name, *display_name.split(), email.split("@")[0]}:
            if len(name) >= 3:
                bio = _mask_name(bio, name)
        x = {f"bio:{k}": v for k, v in text_features(bio, bigrams=False).items()}
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
        for key in sorted(features):
            if key.startswith(PROFILE_PREFIX):
                value = features[key]
                if isinstance(value, bool):
                    x[key] = 1.0 if value else 0.0
                elif isinstance(value, (int, float)):
                    x[key] = log_scale(value, 1_000_000)
                # Anything else (text) could carry an identifier: not used.
        return x

    # ---- modes -----------------------------------------------------------------------------

    @property
    def current_mode(self) -> str:
        if self.ready:
            return "supervised"
        return "anomaly" if self.n_observed >= 2 * self.window_size else "cold"

    def threshold_for(self, mode: str) -> float:
        if mode == "anomaly":
            return float(self._score_quantile.get() or 1.0)
        return self.threshold

    def _anomaly_score(self, x: ModelInput) -> float:
        return float(self._hst.score_one(_numeric_part(x)))

    def _score(self, x: ModelInput) -> float:
        if self.current_mode == "anomaly":
            return self._anomaly_score(x)
        return super()._score(x)

    def _explain(self, x: ModelInput) -> tuple[float, dict[str, Any]]:
        if self.current_mode != "anomaly":
            return super()._explain(x)
        unusual = []
        for key, value in x.items():
            stat = self._stats.get(key)
            if stat is None or stat[0] < 2 or not _numeric(key):
                continue
            std = math.sqrt(stat[2] / (stat[0] - 1)) + 1e-3
            unusual.append((abs(value - stat[1]) / std, key, value, stat[1]))
        top = heapq.nlargest(TOP_FEATURES, unusual)
        return self._anomaly_score(x), {
            "mode": "anomaly",
            "top_features": [{"feature": k, "value": round(v, 6), "typical": round(m, 6),
                              "z": round(z, 3)} for z, k, v, m in top],
        }

    def observe(self, x: ModelInput) -> None:
        """Learn the usual signup from an unlabelled (consented) one: Half-Space Trees and stats."""
        numeric = _numeric_part(x)
        if self.n_observed >= self.window_size:  # the trees have a reference mass: calibrate
            self._score_quantile.update(float(self._hst.score_one(numeric)))
        self._hst.learn_one(numeric)
        for key, value in numeric.items():
            stat = self._stats.setdefault(key, [0.0, 0.0, 0.0])
            stat[0] += 1
            delta = value - stat[1]
            stat[1] += delta / stat[0]
            stat[2] += delta * (value - stat[1])
        self.n_observed += 1
