"""The worker keeps the link index from the input topics and opens one case per ring, on the
embedded broker and Redis, however often the ring's events are delivered."""

from __future__ import annotations

import pytest

from tests.support.links import simulated_ring
from tests.support.stack import Stack
from tests.support.traffic import flags_in_redis, publish, wait_caught_up, wait_processed

pytestmark = pytest.mark.integration


def test_a_shared_device_ring_from_the_simulator_opens_one_case_once(stack: Stack) -> None:
    ring = simulated_ring(6)
    members = [e["payload"]["user_id"] for e in ring]
    stack.start_worker()
    publish(stack, ring)
    wait_processed(stack, {e["event_id"] for e in ring})
    wait_caught_up(stack)
    publish(stack, ring)  # a producer retrying: the ring's case must not be doubled
    wait_caught_up(stack)
    client = stack.client
    rings = [f for f in flags_in_redis(stack) if f["detector_id"] == "link.shared_device_ring"]
    assert len(rings) == 1
    flag = rings[0]
    # Partitions interleave: the ring's case opens at whichever five accounts came first, on
    # the oldest of them.
    named = flag["evidence"]["members"]
    assert len(named) >= 5 and set(named) <= set(members)
    assert flag["entity_id"] == min(named, key=members.index)
    case_id = client.hget("vigil:flag_case", flag["flag_id"]).decode()
    assert client.get(f"vigil:entity:user:{flag['entity_id']}:open_case").decode() == case_id
    # Every account is linked to its device, IP, /24 and e-mail domain, by keyed hash only.
    for member in members:
        keys = {k.decode().split(":")[0] for k in client.zrange(f"vigil:links:user:{member}", 0, -1)}
        assert keys == {"device", "ip", "ip24", "domain"}
    stored = " ".join(k.decode() for k in client.scan_iter("vigil:links:*"))
    assert ring[0]["payload"]["device_id"] not in stored and ring[0]["payload"]["ip"] not in stored
