"""Unlearning, pure: a count model after subtracting a user equals one that never saw them; a
rebuild is a fresh model trained on the log without them."""

from __future__ import annotations

import random

import pytest

from detectors.models import FakeSignupModel, ScamMessageCountsModel, ScamMessageModel
from detectors.unlearning import Contribution, covered, rebuild, split, subtract
from tests.support.models import KEY, event

SCAM = ["URGENT you have won a prize call 09061701461 now", "pay me on whatsapp +44 7700 900123",
        "free entry text WIN to 87121", "send the deposit by western union today"]
FINE = ["see you at the meeting tomorrow", "thanks for the draft, looks good",
        "can you share the invoice", "lunch at noon?", "ok call me later"]


def message_stream(seed: int, n: int = 120) -> list[Contribution]:
    """Labelled messages of three users, interleaved, as a training log holds them."""
    rng = random.Random(seed)
    model = ScamMessageCountsModel(KEY)
    out = []
    for i in range(n):
        fraud = rng.random() < 0.3
        text = rng.choice(SCAM if fraud else FINE) + f" {rng.choice(['a', 'b', 'c', 'zq'])}"
        x = model.featurize(event("message.sent", {"text": text, "has_active_contract": False}, i),
                            {})
        out.append(Contribution(rng.choice(["anon_u", "anon_v", "anon_w"]), x, fraud, float(i),
                                f"{i}-0"))
    return out


def trained(log: list[Contribution]) -> ScamMessageCountsModel:
    return rebuild(ScamMessageCountsModel(KEY), log)  # type: ignore[return-value]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_count_model_after_exact_unlearning_equals_the_model_trained_without_the_user(
        seed: int) -> None:
    log = message_stream(seed)
    model = trained(log)
    keep, forget = split(log, {"anon_u": 1e12})
    assert forget and all(c.subject == "anon_u" for c in forget)

    assert subtract(model, forget) == len(forget)

    without = trained([c for c in log if c.subject != "anon_u"])
    assert model.snapshot() == without.snapshot()  # the serialised state, byte for byte
    assert model.counts == without.counts and model.docs == without.docs
    assert model.totals == without.totals
    assert all(sum(pair) > 0 for pair in model.counts.values())  # no token left at zero
    # And it scores as that model does (same vocabulary, so the same smoothing).
    probe = log[0].x
    assert model.predict(probe)[0] == without.predict(probe)[0]


def test_a_request_covers_only_events_up_to_its_time() -> None:
    old = Contribution("anon_u", {"w:a": 1.0}, True, 100.0)
    new = Contribution("anon_u", {"w:b": 1.0}, False, 300.0)  # opted in again after the request
    other = Contribution("anon_v", {"w:c": 1.0}, True, 100.0)
    assert covered(old, {"anon_u": 200.0}) and not covered(new, {"anon_u": 200.0})
    assert not covered(other, {"anon_u": 200.0})
    assert split([old, new, other], {"anon_u": 200.0}) == ([new, other], [old])


def test_unlearning_what_was_never_learned_is_refused_and_changes_nothing() -> None:
    model = trained(message_stream(4, 20))
    before = model.snapshot()
    with pytest.raises(ValueError, match="cannot unlearn"):
        model.unlearn({"w:never-seen-token": 1.0}, True)
    with pytest.raises(ValueError, match="whole"):
        model.learn({"w:half": 0.5}, True)
    assert model.snapshot() == before


def test_count_model_snapshot_restores_to_the_same_state_and_carries_no_key() -> None:
    model = trained(message_stream(5, 40))
    copy = ScamMessageCountsModel(b"another-key-0123456789")
    copy.restore(model.snapshot())
    assert copy.snapshot() == model.snapshot()
    assert KEY not in model.snapshot()


def test_a_logistic_model_cannot_be_subtracted_from() -> None:
    with pytest.raises(TypeError, match="rebuild"):
        subtract(ScamMessageModel(KEY), [])


def test_rebuild_replays_labels_and_unlabelled_inputs_in_log_order_deterministically() -> None:
    signup = FakeSignupModel(KEY)
    base = {"kind": 1.0, "has_photo": 1.0}
    log = [Contribution(f"anon_{i % 3}", {**base, "signup_duration": (i % 7) / 7},
                        None if i % 4 else bool(i % 8), float(i)) for i in range(600)]
    a = rebuild(FakeSignupModel(KEY), log)
    b = rebuild(signup, log)
    assert a.snapshot() == b.snapshot()  # same order, same seed: the same model
    assert a.n_labels == sum(1 for c in log if c.label is not None)
