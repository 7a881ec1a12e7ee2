"""The ownership table, lateness classification and the join book (detectors.ordering)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.features import CATALOGUE, EXAMPLE_SIGNUP
from detectors.ordering import JOINS, OWNERSHIP, JoinBook, hops, lateness, owner_of
from schemas import decode_event_obj


def test_every_owned_feature_is_in_the_catalogue_and_fed_by_its_hops():
    names = {f.name for f in CATALOGUE}
    assert set(OWNERSHIP) <= names
    for feature, owner in OWNERSHIP.items():
        types = next(f.event_types for f in CATALOGUE if f.name == feature)
        # The owner sees every event type the feature is computed for.
        assert types <= owner.event_types, feature


def test_every_join_reads_catalogue_features_of_its_waiting_type():
    by_name = {f.name: f for f in CATALOGUE}
    for join in JOINS:
        for feature in join.features:
            assert join.waiting in by_name[feature].event_types, (join.waiting, feature)


def test_signup_is_rekeyed_to_its_device_and_its_24():
    event = decode_event_obj({**EXAMPLE_SIGNUP, "payload": {
        **EXAMPLE_SIGNUP["payload"], "device_id": "dX", "ip": "198.51.100.200"}})
    assert hops(event) == (("device", "dX"), ("ip24", "198.51.100.0/24"))
    assert owner_of("account_age_seconds").entity == "user"


def test_lateness_boundaries():
    assert lateness(at=10.0, watermark=10.0, allowed=0.0) == "on_time"
    assert lateness(at=9.0, watermark=10.0, allowed=1.0) == "late"
    assert lateness(at=8.999, watermark=10.0, allowed=1.0) == "too_late"


def test_proposal_before_its_job_post_is_decided_again_late_and_matched():
    book = JoinBook(window=600.0, max_held=100)
    assert book.hold("p1", partner="j1", at=10.0) == []
    (release,) = book.arrive("j1", at=12.0)
    assert (release.event_id, release.matched, release.late) == ("p1", True, True)
    # A redelivered proposal is neither held nor decided twice.
    assert book.hold("p1", partner="j1", at=10.0) == []


def test_unmatched_when_the_window_ends_is_decided_without_partner():
    book = JoinBook(window=60.0, max_held=100)
    book.hold("p1", partner="j1", at=0.0)
    assert book.expire(60.0) == []
    (release,) = book.expire(61.0)
    assert (release.matched, release.reason) == (False, "window_ended")
    assert book.arrive("j1", at=62.0) == []  # already decided: not again


def test_a_full_book_lets_the_oldest_go_unmatched():
    book = JoinBook(window=600.0, max_held=2)
    book.hold("a", partner="j1", at=1.0)
    book.hold("b", partner="j2", at=2.0)
    (release,) = book.hold("c", partner="j3", at=3.0)
    assert (release.event_id, release.reason, release.matched) == ("a", "book_full", False)
    assert set(book.held) == {"b", "c"}


@st.composite
def _streams(draw):
    jobs = draw(st.integers(1, 4))
    proposals = draw(st.lists(st.integers(0, jobs - 1), min_size=1, max_size=8))
    arrivals = [("job", f"j{j}") for j in range(jobs)] + [
        ("proposal", (f"p{i}", f"j{j}")) for i, j in enumerate(proposals)]
    order = draw(st.permutations(arrivals))
    redelivered = draw(st.lists(st.sampled_from(arrivals), max_size=4))
    return list(order) + redelivered


@settings(max_examples=200, deadline=None)
@given(_streams())
def test_any_arrival_order_gives_every_proposal_its_job(stream):
    """Within the window, whatever the order (and redeliveries), each proposal is decided
    exactly once, with its job post: the decision does not depend on the interleaving."""
    book = JoinBook(window=3600.0, max_held=100)
    decided: dict[str, bool] = {}
    for at, (kind, item) in enumerate(stream):
        if kind == "job":
            releases = book.arrive(item, at=float(at))
        else:
            releases = book.hold(item[0], partner=item[1], at=float(at))
        for release in releases:
            assert release.event_id not in decided
            decided[release.event_id] = release.matched
    proposals = {item[0] for kind, item in stream if kind == "proposal"}
    assert decided == {p: True for p in proposals}
