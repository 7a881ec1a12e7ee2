"""The scam/off-platform message model learns from labels and explains itself in words."""

from __future__ import annotations

from detectors.models import ScamMessageModel
from tests.support.models import KEY, event, fine_example, fraud_example, train


def test_learns_to_flag_off_platform_payment_requests_from_labels() -> None:
    model = ScamMessageModel(KEY)
    train(model)
    result = model.detect(*fraud_example(model))
    assert result.fired and result.score > 0.9 and result.severity == "high"
    top = [t["feature"] for t in result.evidence["top_features"]]
    assert {"w:whatsapp", "w:<phone>", "no_contract&<phone>", "w:crypto", "b:by whatsapp"} & set(top)
    assert not model.detect(*fine_example(model)).fired


def test_contact_details_before_a_contract_are_a_feature_of_their_own() -> None:
    model = ScamMessageModel(KEY)
    text = "email me at someone@example.org"
    before = model.featurize(event("message.sent", {"text": text, "has_active_contract": False}), {})
    during = model.featurize(event("message.sent", {"text": text, "has_active_contract": True}), {})
    assert before["no_contract&<email>"] == 1.0 and before["no_active_contract"] == 1.0
    assert not any(k.startswith("no_contract&") for k in during) and during["no_active_contract"] == 0.0
    assert "w:<email>" in before and not any("someone" in k for k in before)


def test_never_fires_before_it_has_seen_enough_labels_of_each_class() -> None:
    model = ScamMessageModel(KEY, min_labels_per_class=5)
    train(model, n=4)
    result = model.detect(*fraud_example(model))
    assert result.score > 0.5 and not result.fired and result.evidence["mode"] == "cold"
    train(model, n=1)
    assert model.detect(*fraud_example(model)).fired


def test_sender_behaviour_counts() -> None:
    model = ScamMessageModel(KEY)
    ev = event("message.sent", {"text": "hi"})
    quiet = model.featurize(ev, {"sender_strangers_1h": 0, "sender_recipients_1h": 1})
    busy = model.featurize(ev, {"sender_strangers_1h": 40, "sender_recipients_1h": 45})
    assert busy["sender_strangers_1h"] > 0.9 > quiet["sender_strangers_1h"] == 0.0
