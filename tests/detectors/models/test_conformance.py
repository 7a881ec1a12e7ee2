"""The checks every online model passes (river's ``check_estimator`` idea), generated over the registry."""

from __future__ import annotations

import json
import pickle
import re
from typing import Any

import pytest

from detectors.consent import CONSENT_UNAVAILABLE, ConsentRecord
from detectors.core import Context, decide
from detectors.errors import SnapshotRefused
from detectors.models import MODEL_CLASSES, OnlineModel, default_models
from detectors.privacy import assert_minimised
from detectors.ruleset import case_entity, load_rules
from schemas.events import EVENT_MODELS
from tests.support.models import (
    CONSENT,
    KEY,
    RAW_IDENTIFIERS,
    event_types,
    fine_example,
    fraud_example,
    identifying_event,
    labelled,
    minimal_event,
    train,
)

NO_RULES = load_rules({})
MODELS = default_models(KEY)
IDS = [m.id for m in MODELS]


@pytest.fixture(params=[type(m) for m in MODELS], ids=IDS)
def model_class(request: pytest.FixtureRequest) -> type[OnlineModel]:
    return request.param


@pytest.fixture
def model(model_class: type[OnlineModel]) -> OnlineModel:
    return model_class(KEY)


@pytest.fixture(scope="module")
def trained() -> dict[str, OnlineModel]:
    out = {}
    for cls in MODEL_CLASSES:
        model = cls(KEY)
        train(model)
        out[model.id] = model
    return out


def one_event(model: OnlineModel, event_type: str | None = None) -> tuple[Any, dict[str, Any]]:
    return fraud_example(model, event_type)


def test_registry_holds_one_model_per_module_each_with_its_own_id() -> None:
    assert len(set(IDS)) == len(IDS) == 5
    assert {type(m).__module__ for m in MODELS} == {
        "detectors.models.messages", "detectors.models.job_posts",
        "detectors.models.proposals", "detectors.models.signups",
        "detectors.models.message_counts"}


def test_has_id_description_version_and_is_ai(model: OnlineModel) -> None:
    assert re.fullmatch(r"[a-z_]+\.[a-z_]+", model.id)
    assert len(model.description) > 40
    assert isinstance(model.version, str) and model.version
    assert model.state_version == f"{model.version}.0"
    assert model.is_ai is True
    assert model.event_types and model.event_types <= set(EVENT_MODELS)


def test_needs_an_injected_key_of_at_least_16_bytes(model_class: type[OnlineModel]) -> None:
    for bad in (b"", b"short", "a string key of enough length"):
        with pytest.raises(ValueError, match="hash_key"):
            model_class(bad)  # type: ignore[arg-type]


def test_featurize_is_deterministic_and_json_serialisable(model_class: type[OnlineModel],
                                                         trained: dict[str, OnlineModel]) -> None:
    a, b = model_class(KEY), model_class(KEY)
    for event_type in event_types(a):
        ev, features = one_event(a, event_type)
        x = a.featurize(ev, features)
        assert x == b.featurize(ev, features) == a.featurize(ev, features)
        assert all(isinstance(k, str) and isinstance(v, float) for k, v in x.items())
        assert json.loads(json.dumps(x)) == x
        model = trained[a.id]
        first, second = model.detect(ev, features), model.detect(ev, features)
        assert (first.score, first.fired, first.evidence, first.reason) == (
            second.score, second.fired, second.evidence, second.reason)
        assert model.state_version == f"{model.version}.60", "scoring must not change the model"


def test_handles_missing_optional_fields_and_features(model: OnlineModel,
                                                      trained: dict[str, OnlineModel]) -> None:
    for event_type in event_types(model):
        ev = minimal_event(event_type)
        for m in (model, trained[model.id]):
            result = m.detect(ev, {})
            assert result.skipped is None
            assert 0.0 <= result.score <= 1.0
            assert result.model_input is not None
        # Odd feature values (missing, None, wrong type) do not break featurize either.
        odd = {"account_age_seconds": None, "freelancer_proposals_10m": "many",
               "device_accounts_24h": float("nan"), "sender_strangers_1h": -3,
               "profile_followers": "lots", "profile_completed_jobs": float("nan"),
               "profile_badge": 3, "profile_hires": -2}
        assert model.featurize(ev, odd)


def test_a_fresh_model_is_neutral_and_never_fires(model: OnlineModel) -> None:
    for event_type in event_types(model):
        ev, features = one_event(model, event_type)
        result = model.detect(ev, features)
        assert result.fired is False
        assert result.score == pytest.approx(0.5)
        assert result.evidence["mode"] == "cold"


def test_featurize_never_holds_a_raw_identifier(model: OnlineModel,
                                                trained: dict[str, OnlineModel]) -> None:
    for event_type in event_types(model):
        ev, features = identifying_event(event_type)
        x = model.featurize(ev, features)
        assert_minimised(x, RAW_IDENTIFIERS)
        # Nor does what an analyst reads: the explanation and reason of a trained model.
        result = trained[model.id].detect(ev, features)
        assert_minimised({"evidence": result.evidence, "reason": result.reason}, RAW_IDENTIFIERS)


def test_snapshot_restore_round_trips(model_class: type[OnlineModel],
                                      trained: dict[str, OnlineModel]) -> None:
    source = trained[model_class.id]
    blob = source.snapshot()
    assert KEY not in blob, "the hashing key must never travel with a snapshot"
    restored = model_class(KEY)
    restored.restore(blob)
    assert restored.state_version == source.state_version
    assert restored.metrics() == source.metrics()
    for event_type in event_types(source):
        for ev, features, _ in labelled(event_type, 5):
            a, b = source.detect(ev, features), restored.detect(ev, features)
            assert (a.score, a.fired, a.evidence) == (b.score, b.fired, b.evidence)


def test_plain_pickling_leaves_the_key_out_too(trained: dict[str, OnlineModel]) -> None:
    for model in trained.values():
        assert KEY not in pickle.dumps(model)


def test_restore_refuses_another_models_snapshot_or_garbage(model: OnlineModel) -> None:
    other = next(m for m in default_models(KEY) if m.id != model.id)
    with pytest.raises(SnapshotRefused, match="snapshot is of"):
        model.restore(other.snapshot())
    with pytest.raises(SnapshotRefused, match="unreadable"):
        model.restore(b"not a pickle")
    with pytest.raises(SnapshotRefused, match="format"):
        model.restore(pickle.dumps({"format": 999}))
    assert model.state_version == f"{model.version}.0", "a refused snapshot changes nothing"


@pytest.mark.parametrize("consent", [
    None, CONSENT_UNAVAILABLE,
    ConsentRecord("opted_out", CONSENT.policy_version, CONSENT.changed_at, "c_out"),
    ConsentRecord("opted_in", "2025-06", CONSENT.changed_at, "c_old"),
], ids=["never_asked", "unavailable", "opted_out", "old_policy"])
def test_refuses_to_run_without_consent(model: OnlineModel, consent: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(model, "featurize", lambda *a: seen.append(a) or {})
    for event_type in event_types(model):
        ev, features = one_event(model, event_type)
        (result,) = decide(ev, Context(features=features, consent=consent), NO_RULES, [model]).results
        assert result.skipped is not None and result.skipped.startswith("no_consent")
        assert result.fired is False and result.model_input is None
        assert seen == [], "the model must not even featurize a non-consenting subject's event"


def test_runs_with_consent_and_records_which_consent_allowed_it(
        trained: dict[str, OnlineModel], model_class: type[OnlineModel]) -> None:
    model = trained[model_class.id]
    for event_type in event_types(model):
        ev, features = one_event(model, event_type)
        (result,) = decide(ev, Context(features=features, consent=CONSENT), NO_RULES, [model]).results
        assert result.skipped is None and result.consent == CONSENT.audit()
        assert (result.entity_type, result.entity_id) == case_entity(ev)


def test_explains_every_fired_score(model_class: type[OnlineModel],
                                    trained: dict[str, OnlineModel]) -> None:
    model = trained[model_class.id]
    for event_type in event_types(model):
        ev, features = fraud_example(model, event_type)
        result = model.detect(ev, features)
        assert result.fired, f"{model.id} should fire on a clear fraud after training: {result}"
        evidence = result.evidence
        assert evidence["model"] == model.id and evidence["state_version"] == model.state_version
        assert evidence["mode"] == "supervised" and evidence["score"] == pytest.approx(result.score, abs=1e-6)
        top = evidence["top_features"]
        assert top and all(set(t) >= {"feature", "value", "contribution"} for t in top)
        assert [t["contribution"] for t in top] == sorted((t["contribution"] for t in top), reverse=True)
        assert top[0]["feature"] in result.reason and f"{result.score:.2f}" in result.reason
        assert result.severity in {"low", "medium", "high"}
        fine = model.detect(*fine_example(model, event_type))
        assert not fine.fired and fine.score < result.score
