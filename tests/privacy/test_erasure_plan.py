"""What erasure plans for one key (pipeline.privacy.plan, pipeline.privacy.scrub): pure, no Redis."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.privacy.plan import (
    DEFAULT_RETAINED,
    REQUIRED_RETAINED,
    PolicyInvalid,
    plan_key,
    retained_families,
)
from pipeline.privacy.scrub import ERASED, Subject, found_in, owned, scrub, scrub_text

ANA = Subject("usr_1", "anon_x", identifiers=frozenset({"ana@example.com", "203.0.113.9"}),
              texts=frozenset({"send the money to my other account", "ok"}),
              events=frozenset({"evt_ana_1"}))


def test_ids_are_matched_whole_not_as_parts_of_other_ids() -> None:
    assert scrub_text("usr_1 usr_12 xusr_1 usr_1.x usr_1:job", ANA) == \
        "anon_x usr_12 xusr_1 usr_1.x anon_x:job"
    assert scrub_text("from 203.0.113.9 and 203.0.113.90", ANA) == f"from {ERASED} and 203.0.113.90"


def test_a_short_text_goes_only_where_it_is_the_whole_value() -> None:
    assert scrub_text("ok", ANA) == ERASED
    assert scrub_text("ok, thanks", ANA) == "ok, thanks"  # someone else's words
    assert scrub_text("quoted: send the money to my other account!", ANA) == f"quoted: {ERASED}!"


def test_json_inside_a_string_is_scrubbed_and_written_back_as_json() -> None:
    stored = json.dumps({"envelope": json.dumps({"subject_id": "usr_1", "payload": {
        "email": "ana@example.com"}})})
    inner = json.loads(json.loads(scrub(stored, ANA))["envelope"])
    assert inner == {"subject_id": "anon_x", "payload": {"email": ERASED}}


def test_a_record_is_owned_by_whoever_its_owner_fields_name() -> None:
    assert owned({"payload": {"sender_id": "usr_1", "recipient_id": "usr_2"}}, ANA)
    assert not owned({"payload": {"sender_id": "usr_2", "recipient_id": "usr_1"}}, ANA)
    assert owned(json.dumps({"envelope": json.dumps({"subject_id": "usr_1"})}), ANA)
    assert not owned("usr_1", ANA) and not owned("[not json", ANA)


def test_only_owned_records_give_identifiers_away() -> None:
    to_ana = {"event_id": "e9", "subject_id": "usr_2", "payload": {"email": "bob@example.com"}}
    assert found_in(to_ana, ANA) == (set(), set(), set())
    own = {"event_id": "e8", "subject_id": "usr_1",
           "payload": {"device_id": "dev_9", "bio": "  ", "text": "hi all"}}
    assert found_in(own, ANA) == ({"dev_9"}, {"hi all"}, {"e8"})


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_scrubbing_twice_changes_nothing_more(text: str) -> None:
    once = scrub_text(text, ANA)
    assert scrub_text(once, ANA) == once
    assert not ANA.mentions(once)


def test_the_subjects_own_records_go_whole_and_others_mentioning_them_are_rewritten() -> None:
    theirs = json.dumps({"subject_id": "usr_1", "payload": {"text": "hello"}})
    to_them = json.dumps({"subject_id": "usr_2", "payload": {"recipient_id": "usr_1",
                                                            "text": "hi usr_1"}})
    assert plan_key("vigil:content:message:m1", "string", theirs, ANA).delete
    change = plan_key("vigil:content:message:m2", "string", to_them, ANA)
    assert not change.delete and json.loads(change.string)["payload"] == {
        "recipient_id": "anon_x", "text": "hi anon_x"}
    assert change.outcome == "pseudonymised"
    assert plan_key("vigil:content:message:m3", "string",
                    json.dumps({"subject_id": "usr_2", "payload": {}}), ANA) is None


def test_a_key_named_by_one_of_their_events_is_theirs() -> None:
    assert plan_key("vigil:model:input:evt_ana_1:message", "hash", {"x": "1"}, ANA).delete
    assert plan_key("vigil:model:input:evt_bob_1:message", "hash", {"x": "1"}, ANA) is None


def test_members_naming_them_leave_an_index_of_others() -> None:
    change = plan_key("vigil:f:device:dev_5:accounts", "zset", [("usr_1", 1.0), ("usr_2", 2.0)],
                      ANA)
    assert change.remove == ("usr_1",) and not change.add and change.outcome == "removed"


def test_retained_records_are_renamed_and_rewritten_not_deleted() -> None:
    decision = json.dumps({"entity_id": "usr_1", "note": "ana@example.com is a repeat offender"})
    change = plan_key("vigil:subject_decisions:usr_1", "list", [decision], ANA)
    assert change.rename_to == "vigil:subject_decisions:anon_x" and not change.delete
    assert json.loads(change.items[0]) == {"entity_id": "anon_x",
                                           "note": f"{ERASED} is a repeat offender"}
    dropped = retained_families(DEFAULT_RETAINED - set(REQUIRED_RETAINED))
    assert plan_key("vigil:subject_decisions:usr_1", "list", [decision], ANA,
                    retained=dropped).delete


def test_consent_history_keeps_only_the_proof_of_the_last_choice() -> None:
    history = [(json.dumps({"v": 1, "opt_in": True}), 1.0),
               (json.dumps({"v": 2, "opt_in": False}), 2.0)]
    change = plan_key("vigil:consent:usr_1", "zset", history, ANA)
    assert change.rename_to == "vigil:consent:anon_x" and not change.delete
    [(member, score)] = change.add.items()
    assert json.loads(member) == {"v": 2, "opt_in": False} and score == 2.0


def test_a_policy_cannot_drop_what_the_queue_points_at_or_name_an_unknown_family() -> None:
    with pytest.raises(PolicyInvalid, match="flag"):
        retained_families({"flag"})
    with pytest.raises(PolicyInvalid, match="no family named nonsense"):
        retained_families({"nonsense"})
    assert retained_families(()) == DEFAULT_RETAINED


def test_their_texts_go_only_from_records_that_name_them() -> None:
    # A scam template sent word for word by many accounts: erasing one sender leaves the
    # evidence in the others' cases, and takes it from records that name the sender.
    template = "send the money to my other account"
    others = json.dumps({"subject_id": "usr_2", "payload": {"text": template}})
    assert plan_key("vigil:event:evt_bob_9", "string", others, ANA) is None
    assert plan_key("vigil:case:c9", "hash", {"entity_id": "user:usr_2", "summary": template},
                    ANA) is None
    notes = [json.dumps({"text": f"usr_1 wrote '{template}'"}), json.dumps({"text": template})]
    change = plan_key("vigil:case_notes:c1", "list", notes, ANA)
    assert [json.loads(n)["text"] for n in change.items] == [f"anon_x wrote '{ERASED}'", template]


def test_a_key_named_by_their_event_keeps_its_name_and_loses_their_data() -> None:
    held = {"envelope": json.dumps({"event_id": "evt_ana_1", "subject_id": "usr_1"})}
    change = plan_key("vigil:j:event:evt_ana_1", "hash", held, ANA, retained=DEFAULT_RETAINED)
    assert change.delete or (change.rename_to is None and "usr_1" not in json.dumps(change.hset))


def test_an_address_they_shared_stays_in_the_records_of_the_other_accounts() -> None:
    bob = json.dumps({"subject_id": "usr_2", "payload": {"ip": "203.0.113.9"}})
    assert plan_key("vigil:event:evt_bob_2", "string", bob, ANA) is None
    index = plan_key("vigil:f:ip24:203.0.113.9:accounts", "zset", [("usr_1", 1.0), ("usr_2", 1.0)],
                     ANA)
    assert index.remove == ("usr_1",) and not index.delete


def test_the_search_index_forgets_every_way_to_their_cases_but_the_case_id() -> None:
    ana = ANA.with_found((), (), (), cases={"case_a"})
    members = [("case:case_a case_a", 0.0), ("user:usr_1 case_a", 0.0),
               ("email:25da2e778acba6575a373e13dc413303 case_a", 0.0),
               ("device:0f1e2d case_b", 0.0), ("user:usr_2 case_b", 0.0)]
    change = plan_key("vigil:search", "zset", members, ana)
    assert set(change.remove) == {"user:usr_1 case_a",
                                  "email:25da2e778acba6575a373e13dc413303 case_a"}
