"""No model reads a feature that no event can carry.

Real events (simulator traffic, the cresci-2015 rows as ``bench.cresci`` maps them when the
data set is there, and a few hand-written valid events for the rare values) go through the
product's path: decode, the feature catalogue over the in-memory store, featurize. Every feature
a model asks for must be one the catalogue computes for that event type, and for the signup
model, whose numeric inputs are declared, every declared input must be produced (non-zero) by
some event, and nothing undeclared may appear.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from detectors.examples import example_event
from detectors.features import FEATURES, assemble, plan_features
from detectors.models import FakeSignupModel, default_models
from detectors.models.signups import CATEGORICAL_PREFIXES, NUMERIC_FEATURES
from pipeline.sim import generate
from pipeline.stores.features import MemoryFeatureStore
from schemas import decode_event_obj
from schemas.events import Envelope
from tests.support.models import KEY

CRESCI = (Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
          / "twitter_fake_profiles_cresci2015" / "profiles.csv")

#: Valid events for values the simulator never draws (a bot's user agent, a free-mail address, a client who hired).
RARE = [
    example_event("user.signed_up", {"user_id": "u_bot", "user_agent": "python-requests/2.31",
                                     "display_name": "bot 7", "email": "bot7@gmail.com"},
                  occurred_at="2026-01-05T11:00:00Z"),
    example_event("user.signed_up", {"user_id": "u_blank", "user_agent": " "},
                  occurred_at="2026-01-05T11:00:01Z"),
    example_event("profile.updated", {
        "user_id": "u_client", "account_type": "client", "jobs_posted": 12, "hires": 9,
        "total_spent_band": "10k+", "payment_verified": True, "badge": "none",
        "hourly_rate": None, "job_success_score": None}, occurred_at="2026-01-05T11:00:02Z"),
    example_event("profile.updated", {"user_id": "u_top", "badge": "top_rated_plus",
                                      "job_success_score": 100, "has_video_intro": True},
                  occurred_at="2026-01-05T11:00:03Z"),
    # Contact details in the overview: the cresci descriptions have some, the simulator none.
    example_event("profile.updated", {"user_id": "u_contact", "overview":
                                      "Fast delivery. Write me at joe@example.com or https://t.me/joe"},
                  occurred_at="2026-01-05T11:00:04Z"),
    # And in a signup's bio: the simulator's seeded stream has it only by chance (a name).
    example_event("user.signed_up", {"user_id": "u_bio", "bio":
                                     "Designer. Write me at joe@example.com or https://t.me/joe"},
                  occurred_at="2026-01-05T11:00:05Z"),
]


class Recording(Mapping[str, Any]):
    """The features of one event, noting every name a model asks for."""

    def __init__(self, values: dict[str, Any], asked: set[str]) -> None:
        self.values, self.asked = values, asked

    def __getitem__(self, name: str) -> Any:
        self.asked.add(name)
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.asked.add(name)
        return self.values.get(name, default)

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("a model must read features by name, not iterate over them")

    def __len__(self) -> int:
        return len(self.values)


def real_events() -> Iterator[Envelope]:
    for sim in generate(seed=5, count=6_000, fraud_rate=0.15):
        yield decode_event_obj(sim.envelope)
    if CRESCI.exists():
        from bench.cresci import cresci_events

        for events, _ in cresci_events(CRESCI)[:400]:
            yield from (decode_event_obj(e) for e in events)
    yield from (decode_event_obj(e) for e in RARE)


@pytest.fixture(scope="module")
def through_the_product() -> dict[str, Any]:
    """Per model: the features it asked for, by event type, and the inputs it made."""
    store, models = MemoryFeatureStore(), default_models(KEY)
    asked: dict[tuple[str, str], set[str]] = {}
    inputs: dict[str, list[dict[str, float]]] = {m.id: [] for m in models}
    for event in real_events():
        values = assemble(event, store.execute_sync(plan_features(event)))
        for model in models:
            if event.type in model.event_types:
                seen = asked.setdefault((model.id, event.type), set())
                inputs[model.id].append(model.featurize(event, Recording(values, seen)))
    return {"asked": asked, "inputs": inputs}


def test_every_feature_a_model_reads_is_computed_for_its_event_type(
        through_the_product: dict[str, Any]) -> None:
    asked = through_the_product["asked"]
    assert {kind for _, kind in asked} >= {"user.signed_up", "profile.updated", "message.sent",
                                           "proposal.submitted", "job_post.created"}
    for (model_id, event_type), names in asked.items():
        for name in names:
            assert name in FEATURES, f"{model_id} reads {name!r}, which the catalogue lacks"
            assert event_type in FEATURES[name].event_types, (
                f"{model_id} reads {name!r} on {event_type}, where the catalogue does not compute it")


def test_the_signup_model_gets_exactly_its_declared_inputs_from_real_events(
        through_the_product: dict[str, Any]) -> None:
    inputs = through_the_product["inputs"][FakeSignupModel.id]
    produced = {k for x in inputs for k, v in x.items() if v}
    numeric = {k for x in inputs for k in x if ":" not in k and "=" not in k}
    assert numeric <= set(NUMERIC_FEATURES), numeric - set(NUMERIC_FEATURES)
    assert all(k.startswith(CATEGORICAL_PREFIXES) for x in inputs for k in x if k not in numeric)
    dead = set(NUMERIC_FEATURES) - produced
    assert not dead, f"declared inputs no real event produces: {sorted(dead)}"
    assert {"kind=signup", "kind=profile"} <= produced
