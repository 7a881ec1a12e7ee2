"""The cresci-2015 mapping (bench/cresci.py) and the evaluation's product path, on a tiny file
shaped like the real one (the data set itself is read in place, never copied)."""

from __future__ import annotations

import csv
from pathlib import Path

from bench.cresci import LABELLED, MAPPING, cresci_events
from bench.evaluate_models import BENCH_KEY, DataSet, Row, load_cresci, run
from detectors.models import FakeSignupModel
from schemas import decode_event_obj

COLUMNS = ("statuses_count,followers_count,friends_count,favourites_count,listed_count,created_at,"
           "lang,time_zone,location,default_profile,default_profile_image,geo_enabled,"
           "profile_use_background_image,profile_text_color,profile_sidebar_border_color,"
           "profile_background_tile,profile_sidebar_fill_color,profile_background_color,"
           "profile_link_color,utc_offset,protected,verified,description,updated,is_fake").split(",")


def tiny(path: Path, n: int = 60) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, COLUMNS)
        out.writeheader()
        for i in range(n):
            fake = i % 2 == 1
            out.writerow({c: "" for c in COLUMNS} | {
                "statuses_count": 3 if fake else 900 + i, "followers_count": 2 if fake else 150,
                "friends_count": 700 if fake else 120, "favourites_count": 0 if fake else 30,
                "listed_count": 0 if fake else 3, "default_profile": "1.0" if fake else "",
                "default_profile_image": "1.0" if i == 4 else "", "lang": "en", "geo_enabled": "",
                "description": "" if fake else f"Giornalista e blogger {i}",
                "is_fake": "1" if fake else "0"})
    return path


def test_each_row_is_a_signup_then_a_profile_of_one_user(tmp_path: Path) -> None:
    rows = cresci_events(tiny(tmp_path / "profiles.csv"))
    assert len(rows) == 60 and [label for _, label in rows[:2]] == [False, True]
    (signup, profile), _ = rows[4]
    decoded = [decode_event_obj(e) for e in (signup, profile)]
    assert [e.type for e in decoded] == ["user.signed_up", "profile.updated"]
    assert decoded[0].subject_id == decoded[1].subject_id and decoded[1].occurred_at > decoded[0].occurred_at
    p = decoded[LABELLED].payload
    assert (p.completed_jobs, p.followers, p.following, p.overview) == (904, 150, 120, "Giornalista e blogger 4")
    assert p.has_photo is False and decoded[0].payload.has_photo is False  # the default avatar
    # Left out on purpose: no field carries likes, lists, the theme, language or place.
    assert (p.reviews, p.portfolio_items, p.has_video_intro, p.country) == (0, 0, False, None)
    assert {column for column, _, _ in MAPPING} == {
        "description", "statuses_count", "followers_count", "friends_count", "default_profile_image"}


def test_the_evaluation_feeds_the_model_only_through_the_catalogue(tmp_path: Path) -> None:
    rows = load_cresci(tiny(tmp_path / "profiles.csv"))
    assert "features" not in Row.__dataclass_fields__  # no path hands a model features
    assert all(r.event_type == "profile.updated" and [t for t, _ in r.context] == ["user.signed_up"]
               for r in rows)
    models: list[FakeSignupModel] = []

    def model() -> FakeSignupModel:
        models.append(FakeSignupModel(BENCH_KEY))
        return models[-1]

    # Through vigil replay, every label revealed: the worker's path (rules, catalogue, gate).
    done = run(DataSet("tiny cresci", "signups", model, rows, [None]), None, "all", 0.0)
    (trained,) = models
    # A row's decision is about the account: it labels the signup and the profile.
    assert len(done.labels) == 60 and trained.n_labels == 120
    assert trained.n_observed == 120  # each row's signup and profile, as the worker observes them
    assert sum(f and y for f, y in zip(done.fired, done.labels)) > 15  # it learns the toy set
