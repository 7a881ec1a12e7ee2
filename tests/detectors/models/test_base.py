"""What every online model inherits: versions, class weights, drift on the error stream."""

from __future__ import annotations

import random

import pytest

from detectors.core import learn_from_label
from detectors.models import ScamMessageModel
from tests.support.models import CONSENT, KEY, labelled


def teach(model: ScamMessageModel, examples: list, noise: float = 0.0) -> None:
    rng = random.Random(7)
    for ev, features, label in examples:
        x = model.featurize(ev, features)
        learn_from_label(model, x, label != (rng.random() < noise), consent_at_event=CONSENT,
                         consent_now=CONSENT, event_time=ev.occurred_at)


def test_version_stays_while_state_version_counts_labels() -> None:
    model = ScamMessageModel(KEY)
    teach(model, labelled("message.sent", 3))
    assert model.version == "1" and model.state_version == "1.6"
    assert model.metrics() == {"model": "message.scam_model", "version": "1", "state_version": "1.6",
                               "labels": 6, "positives": 3, "ready": False,
                               "error_rate": model.metrics()["error_rate"], "drift_count": 0}


def test_the_rarer_class_weighs_more_within_a_cap() -> None:
    model = ScamMessageModel(KEY, max_class_weight=3.0)
    model.n_labels, model.n_positive = 100, 10
    assert model._class_weight(True) > 2.5 and model._class_weight(False) == 1.0
    model.n_labels, model.n_positive = 1000, 1
    assert model._class_weight(True) == 3.0


def test_a_rise_in_the_error_rate_is_detected_as_drift() -> None:
    model = ScamMessageModel(KEY)
    stable = labelled("message.sent", 100)
    teach(model, stable)
    assert model.drift_count == 0 and model.error_rate < 0.05
    # The same kinds of message, now labelled at random: no model can keep up.
    teach(model, stable, noise=0.5)
    assert model.drift_count >= 1 and model.error_rate > 0.2
    assert model.metrics()["drift_count"] == model.drift_count


def test_the_scoring_copy_of_the_weights_matches_rivers() -> None:
    model = ScamMessageModel(KEY)
    teach(model, labelled("message.sent", 20), noise=0.2)
    assert model._weights == model._lr._weights.to_dict()
    for ev, features, _ in labelled("message.sent", 3):
        x = model.featurize(ev, features)
        assert model._score(x) == pytest.approx(model._lr.predict_proba_one(x)[True], abs=1e-12)


def test_only_a_fired_result_is_explained_and_a_quiet_one_says_what_scored_it() -> None:
    model = ScamMessageModel(KEY)
    teach(model, labelled("message.sent", 20))
    for ev, features, label in labelled("message.sent", 5):
        result = model.detect(ev, features)
        score, explanation = model.predict(result.model_input)
        assert result.score == score and result.fired == label
        if result.fired:
            assert result.evidence == explanation and "did not fire" not in result.reason
        else:  # the same figures as the full explanation, without the ranking of features
            assert result.evidence == {k: explanation[k] for k in
                                       ("mode", "model", "state_version", "score", "threshold")}
            assert result.reason == f"scam message score {score:.2f} (supervised): did not fire"
