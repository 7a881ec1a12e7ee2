"""The network view: a case subject's linked accounts up to two hops, as data and as SVG.

:func:`network_of` reads the link index (:mod:`pipeline.stores.links`) and annotates each
account with its open case, past decisions and flags; :func:`svg` draws it server-side (no
script, no CDN: the console works offline) with a deterministic layout from networkx, readable
at 50 nodes: labels are short, edges are coloured by kind, the subject sits in the middle. The
console shows a table of the same data beside it for keyboard and screen-reader users, and
``GET /api/cases/{id}/network`` returns it as JSON.

>>> view = {"center": "u1", "truncated": False, "nodes": [
...     {"user_id": "u1", "hops": 0, "open_case": None, "decisions": {}, "flags": 0},
...     {"user_id": "u2", "hops": 1, "open_case": "case_2", "decisions": {"confirmed_fraud": 1},
...      "flags": 3}], "edges": [{"a": "u1", "b": "u2", "kinds": ["device"]}]}
>>> out = svg(view)
>>> out.startswith("<svg") and out.count("<circle") == 2 and svg(view) == out
True
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from xml.sax.saxutils import escape

import networkx as nx
from redis.asyncio import Redis

from detectors.links import KINDS
from pipeline.review.queue.keys import K
from pipeline.review.queue.rings import confirmed_of, ring_of
from pipeline.review.web.auth import Principal
from pipeline.review.web.deps import Services
from pipeline.review.web.masking import mask
from pipeline.stores.links import RedisLinks

WIDTH, HEIGHT, MARGIN = 640, 480, 36
#: Edge colours by link kind (the legend repeats them in words: colour is never the only cue).
COLOURS = {"device": "#b2182b", "ip": "#ef8a62", "ip24": "#999999", "domain": "#67a9cf",
           "payment": "#1a9850", "text": "#2166ac"}


async def network_of(redis: Redis, links: RedisLinks, user: str, *, hops: int = 2,
                     max_nodes: int = 50) -> dict[str, Any]:
    """``user``'s network: nodes (open case, decisions by outcome, open case's flag count),
    edges (with their link kinds), and whether ``max_nodes`` cut it short."""
    graph = await links.graph(user, hops=hops, max_nodes=max_nodes)
    users = sorted(graph.nodes, key=lambda u: (graph.nodes[u], u))
    pipe = redis.pipeline(transaction=False)
    for u in users:
        pipe.get(f"{K}entity:user:{u}:open_case")
        pipe.lrange(f"{K}subject_decisions:{u}", 0, 199)
    replies = await pipe.execute()
    open_cases = [_text(r) if r else None for r in replies[0::2]]
    pipe = redis.pipeline(transaction=False)
    for case_id in open_cases:
        pipe.hget(f"{K}case:{case_id}", "flag_count") if case_id else pipe.echo("0")
    counts = await pipe.execute()
    nodes = []
    for u, case_id, decided, flags in zip(users, open_cases, replies[1::2], counts):
        outcomes = Counter(json.loads(d)["outcome"] for d in decided)
        nodes.append({"user_id": u, "hops": graph.nodes[u], "open_case": case_id,
                      "decisions": dict(sorted(outcomes.items())),
                      "flags": int(float(_text(flags) or 0))})
    edges = [{"a": a, "b": b, "kinds": list(kinds)} for a, b, kinds in graph.edges]
    return {"center": user, "nodes": nodes, "edges": edges, "truncated": graph.truncated}


def link_index(svc: Services) -> RedisLinks:
    """The worker's link index, read with the same bounds."""
    return RedisLinks.from_settings(svc.settings, svc.redis)


async def network_for_case(svc: Services, case: dict[str, Any], who: Principal,
                           max_nodes: int = 50) -> dict[str, Any]:
    """The network of a case's subject (its entity, for a user's case), masked for engineers;
    ``ring``: the ring the case is for (its link key, members and those of them confirmed
    fraud when it opened), if it is a ring's case."""
    subject = str(case.get("subject_id") or case["entity_id"])
    view = await network_of(svc.redis, link_index(svc), subject, max_nodes=max_nodes)
    found = ring_of(case)
    view["ring"] = ({"key": found[0], "members": found[1], "confirmed": confirmed_of(case)}
                    if found else None)
    if who.masked:
        view = {**mask(view), "masked": True}
    return view


async def network_context(svc: Services, case: dict[str, Any], who: Principal) -> dict[str, Any]:
    """What the case page's network panel needs (``network.html``): the view, its SVG and
    what each account shares, in words."""
    view = await network_for_case(svc, case, who)
    shares: dict[str, set[str]] = {}
    for e in view["edges"]:
        for user in (e["a"], e["b"]):
            shares.setdefault(user, set()).update(e["kinds"])
    return {"network": view, "network_svg": svg(view) if len(view["nodes"]) > 1 else "",
            "network_shares": {u: ", ".join(KINDS.get(k, k) for k in sorted(ks))
                               for u, ks in shares.items()}}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def layout(view: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Pixel positions of the nodes: networkx's spring layout with a fixed seed, over nodes and
    edges in a fixed order, so the same network is always drawn the same."""
    g = nx.Graph()
    g.add_nodes_from(n["user_id"] for n in view["nodes"])
    g.add_edges_from((e["a"], e["b"]) for e in view["edges"])
    if len(g) == 1:
        return {view["center"]: (WIDTH / 2, HEIGHT / 2)}
    pos = nx.spring_layout(g, seed=19, iterations=100, k=1.6 / max(1, len(g)) ** 0.5,
                           center=(0, 0))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {n: (MARGIN + (x - min(xs)) / span_x * (WIDTH - 2 * MARGIN),
                MARGIN + (y - min(ys)) / span_y * (HEIGHT - 2 * MARGIN))
            for n, (x, y) in pos.items()}


def _fill(node: dict[str, Any], center: str) -> str:
    if node["user_id"] == center:
        return "#1b1b1b"
    if node["decisions"].get("confirmed_fraud"):
        return "#b2182b"
    return "#f4a582" if node["open_case"] else "#d1e5f0"


def svg(view: dict[str, Any]) -> str:
    """The network as an SVG image (aria-hidden: the table beside it says the same in text)."""
    pos = layout(view)
    center = view["center"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" class="network" role="img" aria-labelledby="network-title">'
             f'<title id="network-title">Linked accounts of {escape(center)}: '
             f'{len(view["nodes"]) - 1} accounts, {len(view["edges"])} links</title>']
    for e in view["edges"]:
        (x1, y1), (x2, y2) = pos[e["a"]], pos[e["b"]]
        kind = e["kinds"][0]
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                     f'stroke="{COLOURS.get(kind, "#999")}" stroke-width="{1 + len(e["kinds"])}">'
                     f'<title>{escape(", ".join(KINDS.get(k, k) for k in e["kinds"]))}</title>'
                     f'</line>')
    big = len(view["nodes"]) > 20
    for n in view["nodes"]:
        x, y = pos[n["user_id"]]
        r = 9 if n["user_id"] == center else 6
        label = n["user_id"] if len(n["user_id"]) <= 14 else n["user_id"][:13] + "…"
        parts.append(f'<g class="node" data-user="{escape(n["user_id"])}">'
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{_fill(n, center)}" '
                     f'stroke="#333"><title>{escape(n["user_id"])}</title></circle>')
        if not big or n["user_id"] == center or n["hops"] == 1:
            parts.append(f'<text x="{x + r + 2:.1f}" y="{y + 4:.1f}" font-size="11">'
                         f'{escape(label)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
