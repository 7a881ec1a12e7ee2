"""Seeded marketplace traffic with injected fraud scenarios and their ground truth.

:func:`generate` yields :class:`SimulatedEvent` objects: a JSON-ready envelope (it passes
:func:`schemas.decode_event_obj`) plus the fraud scenario it belongs to, or ``None`` for
benign traffic. The same arguments always give the same stream, event ids included, so a
file written today can be replayed and scored against :func:`truth_record` rows tomorrow.

The benign world is a growing population of clients and freelancers: each signs up before
doing anything else (most answer the AI-features choice on the signup form, whose consent
event goes just before the signup; see :mod:`~pipeline.sim.consent`), most then publish a
marketplace profile and edit it now and then, clients post jobs, freelancers send proposals,
clients interview and hire in message threads, users change AI-feature consent and now and
then file a report.
Fraud scenarios (see :data:`SCENARIOS`) are scheduled into the same clock, so bursts
interleave with benign traffic the way they would in production.

Layout: data in :mod:`~pipeline.sim.words`, :mod:`~pipeline.sim.categories` and
:mod:`~pipeline.sim.fraud_words`; the world in :mod:`~pipeline.sim.world` (clock, ids,
envelopes, market, signups, benign traffic); one module per fraud scenario in
:mod:`pipeline.sim.scenarios`, registered there; the driver in :mod:`~pipeline.sim.stream`.

>>> from schemas import decode_event_obj
>>> events = list(generate(seed=7, count=2_000, fraud_rate=0.1))
>>> len(events), [e.envelope["type"] for e in events[:2]]  # an AI-features answer, then its signup
(2000, ['consent.changed', 'user.signed_up'])
>>> all(decode_event_obj(e.envelope).event_id for e in events)
True
>>> [e.envelope["event_id"] for e in events[:3]] == [
...     e.envelope["event_id"] for e in list(generate(seed=7, count=3, fraud_rate=0.1))]
True
>>> labelled = [e for e in events if e.scenario is not None]
>>> 0.06 < len(labelled) / len(events) < 0.14
True
>>> sorted(truth_record(labelled[0]))
['event_id', 'scenario', 'subject_id', 'type']
"""

from __future__ import annotations

from pipeline.sim.envelopes import POLICY_VERSION
from pipeline.sim.events import SimulatedEvent, truth_record
from pipeline.sim.scenarios import SCENARIOS
from pipeline.sim.stream import DEFAULT_START, generate

__all__ = ["DEFAULT_START", "POLICY_VERSION", "SCENARIOS", "SimulatedEvent", "generate",
           "truth_record"]
