"""The worker keeps the link index from the input topics and opens one case per ring, on the
embedded broker and Redis: a shared device's accounts are a ring once two of them are
confirmed fraud (the decisions reach the worker on tns.decisions), and the ring has one case
however often its events and decisions are delivered."""

from __future__ import annotations

import pytest

from tests.support.links import confirm, simulated_ring
from tests.support.stack import Stack
from tests.support.traffic import flags_in_redis, publish, wait_caught_up, wait_processed

pytestmark = pytest.mark.integration


def ring_flags(stack: Stack) -> list[dict]:
    return [f for f in flags_in_redis(stack) if f["detector_id"] == "link.shared_device_ring"]


def deliver(stack: Stack, events: list[dict]) -> None:
    publish(stack, events)
    wait_processed(stack, {e["event_id"] for e in events})
    wait_caught_up(stack)


def test_a_shared_device_ring_from_the_simulator_opens_one_case_once_two_are_confirmed(
        stack: Stack) -> None:
    ring = simulated_ring(6, profiles=True)
    signups = ring[:6]
    members = [e["payload"]["user_id"] for e in signups]
    stack.start_worker()
    deliver(stack, ring)
    assert ring_flags(stack) == []  # six accounts on one device, none confirmed
    url = stack.settings.redis_url
    first = confirm(url, signups[4:5])
    deliver(stack, first)  # the analysts' decisions, as the review service relays them
    assert ring_flags(stack) == []  # one confirmed: not yet a ring
    second = confirm(url, signups[0:1])
    deliver(stack, second)  # the second confirmation opens the ring's case, no new account
    publish(stack, [*ring, *first, *second])  # a producer retrying: no second ring case
    wait_caught_up(stack)
    client = stack.client
    rings = ring_flags(stack)
    assert len(rings) == 1
    flag = rings[0]
    assert flag["event_id"] == second[0]["event_id"]
    assert flag["evidence"]["members"] == members
    assert flag["evidence"]["confirmed"] == [members[0], members[4]]
    assert flag["entity_id"] == members[0]  # the ring's oldest account
    case_id = client.hget("vigil:flag_case", flag["flag_id"]).decode()
    assert client.get(f"vigil:entity:user:{flag['entity_id']}:open_case").decode() == case_id
    # Every account is linked to its device, IP, /24, e-mail domain and payout, by keyed hash.
    for member in members:
        keys = {k.decode().split(":")[0] for k in client.zrange(f"vigil:links:user:{member}", 0, -1)}
        assert keys == {"device", "ip", "ip24", "domain", "payment"}
    assert set(client.zrange("vigil:links:confirmed", 0, -1)) == {
        members[0].encode(), members[4].encode()}
    stored = " ".join(k.decode() for k in client.scan_iter("vigil:links:*"))
    payout = ring[6]["payload"].get("payout_fingerprint") or ring[6]["payload"]["payment_fingerprint"]
    assert ring[0]["payload"]["device_id"] not in stored and ring[0]["payload"]["ip"] not in stored
    assert payout not in stored
