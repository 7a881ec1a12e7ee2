"""The feature catalogue driven through the in-memory store: windows, distinct counts,
idempotent redelivery, lookups and cover-letter similarity."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.examples import example_event
from detectors.features import (
    CATALOGUE,
    DAY,
    FEATURES,
    HOUR,
    MINUTE,
    assemble,
    example_features,
    ip_prefix,
    plan_features,
    text_fingerprints,
)
from pipeline.stores.features import MemoryFeatureStore
from schemas import decode_event_obj
from schemas.events import Envelope

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)

TEMPLATE = (
    "Hi {name}, I am an experienced brand designer with more than ten years of work for "
    "small food businesses, bakeries and cafes across Europe. I would love to help with your "
    "{what}. I start every project with a short call to understand your customers, then I "
    "send three concepts within five days and refine the one you like with unlimited "
    "revisions until you are happy. You can see similar work in my portfolio."
)


def event(event_type: str, payload: dict[str, Any] | None = None, at: float = 0.0,
          event_id: str | None = None) -> Envelope:
    """A valid event ``at`` seconds after T0, with its own event id unless one is given."""
    return decode_event_obj(example_event(
        event_type, payload,
        occurred_at=(T0 + timedelta(seconds=at)).isoformat(),
        event_id=event_id or str(uuid.uuid4()),
    ))


def signup(user: str, at: float = 0.0, *, device: str = "dev_1", ip: str = "203.0.113.7",
           **payload: Any) -> Envelope:
    return event("user.signed_up", {"user_id": user, "device_id": device, "ip": ip, **payload}, at)


def message(sender: str, recipient: str, at: float = 0.0, *, contract: bool = False) -> Envelope:
    return event("message.sent", {"sender_id": sender, "recipient_id": recipient,
                                  "has_active_contract": contract}, at)


def proposal(freelancer: str, job: str, at: float = 0.0, *, connects: int = 4,
             letter: str = "I can help with this.") -> Envelope:
    return event("proposal.submitted", {"freelancer_id": freelancer, "job_id": job,
                                        "connects_spent": connects, "cover_letter": letter}, at)


class Features:
    """Plan, execute on the memory store, assemble: what the worker does for each event."""

    def __init__(self) -> None:
        self.store = MemoryFeatureStore()

    def __call__(self, e: Envelope) -> dict[str, Any]:
        return assemble(e, self.store.execute_sync(plan_features(e)))


@pytest.fixture
def features() -> Features:
    return Features()


# ---- the catalogue itself --------------------------------------------------------------------


def test_every_feature_has_an_example_value_and_description() -> None:
    for feature in CATALOGUE:
        assert feature.example is not None, feature.name
        assert len(feature.description) > 10, feature.name
    assert len(FEATURES) == len(CATALOGUE), "feature names must be unique"


@pytest.mark.parametrize("event_type", ["user.signed_up", "job_post.created", "message.sent",
                                        "proposal.submitted", "consent.changed", "user_report.filed",
                                        "profile.updated"])
def test_assembled_features_are_exactly_the_features_of_the_type(event_type: str,
                                                                  features: Features) -> None:
    values = features(event(event_type))
    assert set(values) == set(example_features(event_type))
    assert {"user_events_1m", "account_age_seconds"} <= set(values)


def test_plan_reads_each_raw_answer_once() -> None:
    plan = plan_features(proposal("u_f", "job_1"))
    names = [r.feature for r in plan.reads]
    assert len(names) == len(set(names))


# ---- the marketplace profile ------------------------------------------------------------------


def profile(user: str, at: float = 0.0, **payload: Any) -> Envelope:
    return event("profile.updated", {"user_id": user, **payload}, at)


def test_profile_features_follow_the_users_latest_profile(features: Features) -> None:
    before = features(message("u_p", "u_q", 0))
    assert before["profile_known"] is False and before["profile_completed_jobs"] == 0
    assert before["profile_badge"] == "none" and before["profile_job_success_score"] == -1
    own = features(profile("u_p", 10, completed_jobs=3, job_success_score=None, badge="top_rated",
                           has_photo=False, overview="Short.", skills=["a", "b"]))
    # The update itself is described by its own profile.
    assert own["profile_known"] is True and own["profile_completed_jobs"] == 3
    assert own["profile_job_success_score"] == -1 and own["profile_badge"] == "top_rated"
    assert own["profile_has_photo"] is False and own["profile_overview_length"] == 6
    assert own["profile_skills"] == 2
    later = features(proposal("u_p", "job_1", 20))
    assert {k: v for k, v in later.items() if k.startswith("profile_")} == {
        k: v for k, v in own.items() if k.startswith("profile_")}
    # Someone else's events see nothing of it.
    assert features(message("u_other", "u_p", 30))["profile_known"] is False


def test_the_latest_profile_by_event_time_wins_whatever_the_arrival_order(features: Features) -> None:
    features(profile("u_p", 100, completed_jobs=7, hourly_rate=40.0))
    # A late event (an older version of the profile) arrives after the newer one.
    late = features(profile("u_p", 50, completed_jobs=2, hourly_rate=None))
    assert late["profile_completed_jobs"] == 2 and late["profile_hourly_rate"] == -1.0
    assert features(message("u_p", "u_q", 120))["profile_completed_jobs"] == 7
    features(profile("u_p", 200, completed_jobs=9))
    assert features(message("u_p", "u_q", 210))["profile_completed_jobs"] == 9


def test_a_redelivered_profile_update_changes_nothing(features: Features) -> None:
    first = profile("u_p", 100, completed_jobs=7)
    features(first)
    features(profile("u_p", 150, completed_jobs=8))
    features(first)
    assert features(message("u_p", "u_q", 160))["profile_completed_jobs"] == 8


def test_grouped_features_assemble_to_what_each_feature_computes(features: Features) -> None:
    """assemble() computes a group (the profile's) once per event; each feature's own value
    function must agree with it, known profile or not."""
    store = MemoryFeatureStore()
    for e in (message("u_p", "u_q", 0), profile("u_p", 10, badge="expert_vetted", rating=4.2),
              message("u_p", "u_q", 20)):
        raw = store.execute_sync(plan_features(e))
        values = assemble(e, raw)
        assert values == {f.name: f.value(e, raw) for f in CATALOGUE if e.type in f.event_types}


def test_profile_features_are_read_once_and_never_for_the_update_itself() -> None:
    names = [r.feature for r in plan_features(message("u_p", "u_q")).reads]
    assert names.count("_public_profile") == 1
    assert "_public_profile" not in [r.feature for r in plan_features(profile("u_p")).reads]
    assert [type(w).__name__ for w in plan_features(profile("u_p")).writes] == ["Observe", "Keep"]


# ---- device and network counts ---------------------------------------------------------------


def test_device_accounts_counts_distinct_users_including_the_current_one(features: Features) -> None:
    assert features(signup("u_a", 0))["device_accounts_24h"] == 1
    assert features(signup("u_b", 60))["device_accounts_24h"] == 2
    # The same user signing up again from the device is still one account.
    again = features(signup("u_a", 120))
    assert again["device_accounts_24h"] == 2
    assert again["device_accounts_1h"] == 2
    # Another device has its own count.
    assert features(signup("u_c", 180, device="dev_2"))["device_accounts_24h"] == 1
    assert features(signup("u_d", 240))["device_accounts_24h"] == 3


def test_windows_exclude_older_events_and_the_exact_boundary(features: Features) -> None:
    features(signup("u_a", 0))
    features(signup("u_b", 1))
    # At T0+1h the 1h window is (T0, T0+1h]: u_a (exactly at T0) is out, u_b (T0+1s) is in.
    at_one_hour = features(signup("u_c", HOUR))
    assert at_one_hour["device_accounts_1h"] == 2
    assert at_one_hour["device_accounts_24h"] == 3
    # At T0+1d+1s the 24h window is (T0+1s, T0+1d+1s]: u_a and u_b (at the boundary) are out.
    next_day = features(signup("u_d", DAY + 1))
    assert next_day["device_accounts_24h"] == 2
    assert next_day["device_accounts_1h"] == 1


def test_events_after_the_current_one_are_not_counted(features: Features) -> None:
    features(signup("u_late", 600))
    # An earlier event processed afterwards (out of order) sees only (t - window, t].
    assert features(signup("u_early", 0))["device_accounts_1h"] == 1


def test_redelivered_event_does_not_change_counts(features: Features) -> None:
    features(signup("u_a", 0))
    features(signup("u_b", 10))
    third = signup("u_c", 20)
    first_time = features(third)
    assert first_time["device_accounts_24h"] == 3
    assert features(third) == first_time
    features(proposal("u_f", "job_1", 0, connects=6))
    second = proposal("u_f", "job_2", 30, connects=3)
    counted = features(second)
    assert (counted["freelancer_proposals_10m"], counted["freelancer_connects_24h"]) == (2, 9)
    assert features(second) == counted
    assert features(second)["user_events_1h"] == 2


def test_user_events_count_every_event_of_the_subject(features: Features) -> None:
    features(signup("u_a", 0))
    features(message("u_a", "u_b", 10))
    features(message("u_other", "u_b", 20))
    values = features(proposal("u_a", "job_1", 30))
    assert values["user_events_1m"] == 3
    assert features(message("u_a", "u_c", 30 + MINUTE))["user_events_1m"] == 1


def test_ip24_accounts_share_an_ipv4_24_and_an_ipv6_48(features: Features) -> None:
    assert features(signup("u_1", 0, device="d1", ip="203.0.113.7"))["ip24_accounts_1h"] == 1
    assert features(signup("u_2", 1, device="d2", ip="203.0.113.200"))["ip24_accounts_1h"] == 2
    assert features(signup("u_3", 2, device="d3", ip="203.0.114.7"))["ip24_accounts_1h"] == 1
    assert features(signup("u_4", 3, device="d4", ip="2001:db8:1:2::5"))["ip24_accounts_1h"] == 1
    assert features(signup("u_5", 4, device="d5", ip="2001:db8:1:ffff::9"))["ip24_accounts_1h"] == 2
    # The same /48 spelled with leading zeros and capitals is the same network.
    assert features(signup("u_6", 5, device="d6", ip="2001:0DB8:0001:0::7"))["ip24_accounts_1h"] == 3
    assert features(signup("u_7", 6, device="d7", ip="2001:db8:2::1"))["ip24_accounts_1h"] == 1


@pytest.mark.parametrize(("ip", "prefix"), [
    ("203.0.113.77", "203.0.113.0/24"),
    ("10.0.0.1", "10.0.0.0/24"),
    ("2001:db8:1:2::5", "2001:db8:1::/48"),
    ("2001:0db8:0001:0002:0000:0000:0000:0005", "2001:db8:1::/48"),
    ("2001:DB8:1::1", "2001:db8:1::/48"),
    # "::" inside the first three groups: 2001:0:db8:1:2:3:4:5, so the /48 is 2001:0:db8::.
    ("2001::db8:1:2:3:4:5", "2001:0:db8::/48"),
    ("2001:db8::1", "2001:db8::/48"),
    # An IPv4-mapped IPv6 address is that IPv4 host.
    ("::ffff:203.0.113.7", "203.0.113.0/24"),
])
def test_ip_prefix(ip: str, prefix: str) -> None:
    assert ip_prefix(ip) == prefix


def test_ip_prefix_of_distinct_networks_differ() -> None:
    assert ip_prefix("2001::db8:1:2:3:4:5") != ip_prefix("2001::1")
    assert ip_prefix("::ffff:198.51.100.1") != ip_prefix("::ffff:203.0.113.1")


# ---- account age and profile -----------------------------------------------------------------


def test_account_age_is_minus_one_before_the_signup_is_seen(features: Features) -> None:
    assert features(message("u_ghost", "u_b", 0))["account_age_seconds"] == -1.0


def test_account_age_counts_from_the_first_signup(features: Features) -> None:
    assert features(signup("u_a", 0, phone_verified=True))["account_age_seconds"] == 0.0
    assert features(message("u_a", "u_b", 500))["account_age_seconds"] == 500.0
    # A second signup event for the same user does not reset the profile (first write wins).
    features(signup("u_a", 1000, phone_verified=False))
    later = features(proposal("u_a", "job_1", 2 * DAY))
    assert later["account_age_seconds"] == 2 * DAY
    assert later["subject_phone_verified"] is True


def test_profile_of_another_user_does_not_leak(features: Features) -> None:
    features(signup("u_a", 0, id_verified=True))
    values = features(message("u_b", "u_a", 10))
    assert values["account_age_seconds"] == -1.0
    assert values["subject_id_verified"] is False


# ---- proposals -------------------------------------------------------------------------------


def test_freelancer_proposals_10m(features: Features) -> None:
    assert features(proposal("u_f", "job_1", 0))["freelancer_proposals_10m"] == 1
    assert features(proposal("u_f", "job_2", 120))["freelancer_proposals_10m"] == 2
    assert features(proposal("u_other", "job_2", 130))["freelancer_proposals_10m"] == 1
    assert features(proposal("u_f", "job_3", 10 * MINUTE))["freelancer_proposals_10m"] == 2
    assert features(proposal("u_f", "job_4", 10 * MINUTE + 121))["freelancer_proposals_10m"] == 2


def test_freelancer_connects_24h_sums_connects_in_the_window(features: Features) -> None:
    assert features(proposal("u_f", "job_1", 0, connects=4))["freelancer_connects_24h"] == 4
    assert features(proposal("u_f", "job_2", HOUR, connects=6))["freelancer_connects_24h"] == 10
    # Same amount again on a different proposal: summed, not de-duplicated by value.
    assert features(proposal("u_f", "job_3", 2 * HOUR, connects=6))["freelancer_connects_24h"] == 16
    assert features(proposal("u_x", "job_3", 2 * HOUR, connects=2))["freelancer_connects_24h"] == 2
    # A day after the first, it has left the window.
    assert features(proposal("u_f", "job_4", DAY, connects=1))["freelancer_connects_24h"] == 13


def test_similar_cover_letters_to_different_jobs_are_counted(features: Features) -> None:
    jobs = [("job_1", "Maria", "bakery logo"), ("job_2", "Tom", "cafe menu design"),
            ("job_3", "Aiko", "food truck branding")]
    counts = [features(proposal("u_f", job, i * 60, letter=TEMPLATE.format(name=n, what=w)))
              ["similar_cover_letter_jobs_24h"] for i, (job, n, w) in enumerate(jobs)]
    assert counts == [1, 2, 3]
    # The same letter to a job it already went to is not a new job.
    again = features(proposal("u_f", "job_1", 300, letter=TEMPLATE.format(name="Maria", what="logo")))
    assert again["similar_cover_letter_jobs_24h"] == 3


def test_unrelated_cover_letters_stay_at_one(features: Features) -> None:
    letters = [
        "I have designed logos for three bakeries; portfolio attached.",
        "Could you share the brand colours before Friday? I would start with the packaging.",
        "My rate is firm for the translation, and I deliver within a week of the kickoff call.",
        "Пять лет пишу тексты для интернет-магазинов одежды, примеры пришлю по запросу.",
        "Я программист на Python, могу начать завтра и закончить парсер за три дня.",
        "我有五年的网页设计经验，可以在一周内完成。",
    ]
    for i, letter in enumerate(letters):
        values = features(proposal("u_f", f"job_{i}", i * 60, letter=letter))
        assert values["similar_cover_letter_jobs_24h"] == 1, letter


def test_similar_letters_of_other_freelancers_are_not_counted(features: Features) -> None:
    features(proposal("u_f", "job_1", 0, letter=TEMPLATE.format(name="Maria", what="logo")))
    values = features(proposal("u_g", "job_2", 60, letter=TEMPLATE.format(name="Tom", what="logo")))
    assert values["similar_cover_letter_jobs_24h"] == 1


def test_job_genai_restriction_comes_from_the_job_post(features: Features) -> None:
    features(event("job_post.created", {"job_id": "job_ai", "client_id": "u_client",
                                        "genai_restricted": True}, 0))
    features(event("job_post.created", {"job_id": "job_ok", "client_id": "u_client2"}, 0))
    restricted = features(proposal("u_f", "job_ai", 60))
    assert restricted["job_genai_restricted"] is True
    assert restricted["job_known"] is True
    assert restricted["job_client_id"] == "u_client"
    allowed = features(proposal("u_f", "job_ok", 70))
    assert allowed["job_genai_restricted"] is False
    assert allowed["job_client_id"] == "u_client2"
    unknown = features(proposal("u_f", "job_never_posted", 80))
    assert unknown == {**unknown, "job_known": False, "job_genai_restricted": False,
                       "job_client_id": ""}


# ---- messages --------------------------------------------------------------------------------


def test_sender_strangers_counts_only_recipients_without_a_contract(features: Features) -> None:
    assert features(message("u_s", "u_1", 0))["sender_strangers_1h"] == 1
    with_contract = features(message("u_s", "u_2", 10, contract=True))
    assert with_contract["sender_strangers_1h"] == 1
    assert with_contract["sender_recipients_1h"] == 2
    assert with_contract["active_contract"] is True
    assert features(message("u_s", "u_3", 20))["sender_strangers_1h"] == 2
    # Writing to the same stranger again is not a new stranger.
    repeat = features(message("u_s", "u_1", 30))
    assert repeat["sender_strangers_1h"] == 2
    assert repeat["sender_recipients_1h"] == 3
    # An hour later the window (25s, 1h25s] holds u_1 (last written to at 30s) and u_4.
    assert features(message("u_s", "u_4", HOUR + 25))["sender_strangers_1h"] == 2


# ---- fingerprints ----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_identical_text_has_identical_fingerprints(text: str) -> None:
    first = text_fingerprints(text)
    assert first == text_fingerprints("".join(list(text)))
    assert len(first) == 6
    assert [f.split(":")[0] for f in first] == [str(i) for i in range(6)]


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=30),
       separators=st.lists(st.sampled_from([" ", ", ", ".\n", " - ", "  ", "; "]), min_size=1))
def test_fingerprints_ignore_case_spacing_and_punctuation(words: list[str],
                                                          separators: list[str]) -> None:
    plain = " ".join(words)
    styled = "".join(w.upper() + separators[i % len(separators)] for i, w in enumerate(words))
    assert text_fingerprints(plain) == text_fingerprints(styled)


def test_fingerprints_of_texts_in_different_scripts_differ() -> None:
    russian = text_fingerprints("Пять лет пишу тексты для интернет-магазинов одежды.")
    chinese = text_fingerprints("我有五年的网页设计经验，可以在一周内完成。")
    assert not set(russian) & set(chinese)
