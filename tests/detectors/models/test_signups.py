"""The fake-signup model: anomaly scores before labels, supervised after, minimised profile."""

from __future__ import annotations

from detectors.core import observe_unlabelled
from detectors.features import FEATURES
from detectors.models import FakeSignupModel
from detectors.models.signups import (
    CATEGORICAL_PREFIXES,
    NUMERIC_FEATURES,
    PROFILE_READS,
    SIGNUP_READS,
)
from detectors.privacy import keyed_hash
from tests.support.models import (
    CONSENT,
    DISPLAY_NAME,
    KEY,
    USERNAME,
    catalogue_features,
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


def test_no_feature_reaches_the_model_unless_the_catalogue_names_it() -> None:
    """The old optional ``profile_*`` enrichment (numbers no event carries) is gone: whatever
    else a caller passes in, only the named catalogue features are read."""
    model = FakeSignupModel(KEY)
    foreign = {"profile_followers_count": 1_000_000, "profile_default_profile": True,
               "profile_location": "Somewhere Street 12", "profile_statuses_count": 5}
    for event_type in ("user.signed_up", "profile.updated"):
        ev, features, _ = labelled(event_type, 1)[0]
        x = model.featurize(ev, {**features, **foreign})
        assert x == model.featurize(ev, features)
        assert not set(x) & set(foreign) and "Somewhere" not in str(x)
        numeric = {k for k in x if ":" not in k and "=" not in k}
        assert numeric <= set(NUMERIC_FEATURES)
        assert all(k.startswith(CATEGORICAL_PREFIXES) for k in set(x) - numeric)
    assert set(SIGNUP_READS) | set(PROFILE_READS) <= set(FEATURES)


def test_a_profile_is_scored_on_what_the_catalogue_says_of_it() -> None:
    model = FakeSignupModel(KEY)
    ev = event("profile.updated", {"completed_jobs": 40, "has_photo": True, "followers": 9})
    from_catalogue = model.featurize(ev, catalogue_features(ev))
    assert from_catalogue["kind=profile"] == 1.0 and from_catalogue["profile_has_photo"] == 1.0
    assert from_catalogue["profile_completed_jobs"] > 0 and from_catalogue["profile_followers"] > 0
    # The numbers come from the features, not from the payload: no features, no numbers.
    bare = model.featurize(ev, {})
    assert bare["profile_completed_jobs"] == 0.0 and bare["profile_has_photo"] == 0.0
    assert bare["profile_jss_missing"] == 1.0 and bare["account_unknown"] == 1.0


def test_signups_and_profiles_have_their_own_anomaly_parts() -> None:
    model = FakeSignupModel(KEY, window_size=40)
    for i in range(200):
        ev, features = _normal(i)
        observe_unlabelled(model, model.featurize(ev, features), consent_at_event=CONSENT,
                           consent_now=CONSENT, event_time=ev.occurred_at)
    assert model.current_mode == "anomaly"
    fake_profile = model.detect(*fraud_example(model, "profile.updated"))
    # Profiles have not been observed yet: that part cannot fire, whatever signups look like.
    assert fake_profile.evidence["mode"] == "anomaly" and not fake_profile.fired
    assert fake_profile.score == 0.0
    for i in range(200):
        ev, features, _ = labelled("profile.updated", 200)[2 * i + 1]  # the fine ones
        observe_unlabelled(model, model.featurize(ev, features), consent_at_event=CONSENT,
                           consent_now=CONSENT, event_time=ev.occurred_at)
    fake_profile = model.detect(*fraud_example(model, "profile.updated"))
    assert fake_profile.fired and fake_profile.score > 0.5
    unusual = {t["feature"] for t in fake_profile.evidence["top_features"]}
    assert all(name.startswith(("profile_", "account_", "phone_", "id_")) for name in unusual)
    assert model.detect(*fraud_example(model)).fired, "the signup part still fires on a farm"
