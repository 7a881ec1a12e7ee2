"""The fake-signup model: anomaly scores before labels, supervised after, minimised profile."""

from __future__ import annotations

from detectors.core import observe_unlabelled
from detectors.models import FakeSignupModel
from detectors.privacy import keyed_hash
from tests.support.models import (
    CONSENT,
    DISPLAY_NAME,
    KEY,
    USERNAME,
    event,
    fraud_example,
    labelled,
    train,
)


def _normal(i: int) -> tuple:
    return event("user.signed_up", {
        "user_id": f"n{i}", "email": f"p{i}@example.com", "username": f"person_{i}",
        "display_name": f"Person {i}", "bio": "Writer." if i % 3 else "Designer and illustrator.",
        "has_photo": i % 4 != 0, "phone_verified": i % 2 == 0,
        "signup_duration_ms": 40_000 + (i * 7919) % 60_000}, i), {
        "device_accounts_24h": 1 + i % 2, "ip24_accounts_24h": 1 + i % 3, "device_accounts_1h": 1}


def test_scores_anomalies_before_any_label_and_explains_them() -> None:
    model = FakeSignupModel(KEY, window_size=40)
    for i in range(200):
        ev, features = _normal(i)
        outcome = observe_unlabelled(model, model.featurize(ev, features), consent_at_event=CONSENT,
                                     consent_now=CONSENT, event_time=ev.occurred_at)
        assert outcome.learned and outcome.reason == "observed"
    assert model.n_labels == 0 and model.current_mode == "anomaly"
    farm = model.detect(*fraud_example(model))
    usual = [model.detect(*_normal(i)) for i in range(200, 300)]
    assert farm.fired and farm.evidence["mode"] == "anomaly"
    assert farm.score > max(r.score for r in usual)
    # It fires on the most unusual ~2 % of signups (anomaly_alert_rate): a few normal ones too.
    assert sum(r.fired for r in usual) <= 8
    unusual = {t["feature"] for t in farm.evidence["top_features"]}
    assert unusual & {"device_accounts_24h", "ip24_accounts_24h", "device_accounts_1h",
                      "signup_under_5s", "email_disposable", "user_agent_automation"}
    assert all("typical" in t and "z" in t for t in farm.evidence["top_features"])
    assert "typical" in farm.reason


def test_switches_to_the_supervised_model_once_labelled() -> None:
    model = FakeSignupModel(KEY, window_size=40, min_labels_per_class=20)
    train(model, n=19)
    assert model.current_mode != "supervised"
    train(model, n=1)
    result = model.detect(*fraud_example(model))
    assert model.current_mode == "supervised" and result.evidence["mode"] == "supervised"
    assert result.fired and "contribution" in result.evidence["top_features"][0]


def test_the_email_domain_is_a_keyed_hash_and_own_names_are_masked_in_the_bio() -> None:
    ev = event("user.signed_up", {"email": "a@farm-domain.test", "username": USERNAME,
                                  "display_name": DISPLAY_NAME,
                                  "bio": f"Hi, {USERNAME} here, aka {DISPLAY_NAME}"})
    x1 = FakeSignupModel(KEY).featurize(ev, {})
    x2 = FakeSignupModel(b"another-key-0123456789").featurize(ev, {})
    assert f"email_domain={keyed_hash('farm-domain.test', KEY)}" in x1
    assert {k for k in x1 if k.startswith("email_domain=")} != {k for k in x2 if k.startswith("email_domain=")}
    assert "farm-domain" not in str(x1) and USERNAME not in str(x1)
    assert not any(part.lower() in str(x1).lower() for part in DISPLAY_NAME.split())
    assert "bio:w:<name>" in x1


def test_profile_enrichment_features_are_used_when_numeric_or_boolean_only() -> None:
    model = FakeSignupModel(KEY)
    ev, _, _ = labelled("user.signed_up", 1)[0]
    x = model.featurize(ev, {"profile_followers_count": 1_000_000, "profile_default_profile": True,
                             "profile_location": "Somewhere Street 12"})
    assert x["profile_followers_count"] == 1.0 and x["profile_default_profile"] == 1.0
    assert "profile_location" not in x and "Somewhere" not in str(x)
