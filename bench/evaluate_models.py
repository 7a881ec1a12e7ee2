"""Evaluate Vigil's online models on real labelled data sets, test-then-train, against a batch baseline.

    .venv/bin/python bench/evaluate_models.py [--datasets ../shared/datasets] [--orders 5]

For each data set every row becomes Vigil events (mapped onto the events' payloads, see
``load_*``; a cresci row is a signup and a profile update, :mod:`bench.cresci`) from a subject
who opted in to AI features. The rows stream through the product's path in test-then-train
order: each event is decoded, its features come from the feature catalogue over an in-memory
store (:class:`ProductPath`: what ``vigil replay`` and the worker compute; no feature is handed
to a model any other way), :func:`detectors.core.decide` scores it (the model's ``detect``),
then the row's label is revealed for its labelled event through
:func:`detectors.core.learn_from_label`, the path an analyst's decision takes. Precision, recall and F1 count the model's *fired* verdicts
(a model that has not yet seen enough labels never fires, and that counts against it); ROC AUC
uses its scores. Each set streams in ``--orders`` fixed random orders (seeds 0..n-1; the SMS
set also in file order) and the figures are the mean (and the worst order's F1).

The baseline is scikit-learn's TF-IDF + LogisticRegression, 5-fold stratified cross-validation
on the same rows (``class_weight`` None and "balanced", the better F1 is the target), i.e. a
batch model that saw 80 % of the data, shuffled, before predicting each row. Target: online F1
>= 0.95 x batch F1. Last, the scam-message model's throughput on one core.

Needs scikit-learn (``pip install -e '.[bench]'``). Data sets are read in place, never copied.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cresci import LABELLED, cresci_events  # noqa: E402
from detectors.consent import CURRENT_POLICY_VERSION, ConsentRecord  # noqa: E402
from detectors.core import Context, decide, learn_from_label, observe_unlabelled  # noqa: E402
from detectors.features import assemble, plan_features  # noqa: E402
from detectors.models import (  # noqa: E402
    FakeSignupModel,
    OnlineModel,
    ProposalSpamModel,
    ScamMessageModel,
)
from detectors.models.text import log_scale  # noqa: E402
from detectors.ruleset import load_rules  # noqa: E402
from pipeline.stores.features import MemoryFeatureStore  # noqa: E402
from schemas import decode_event_obj  # noqa: E402
from schemas.events import Envelope  # noqa: E402

BENCH_KEY = b"vigil-bench-key-not-a-secret-0001"
START = datetime(2026, 2, 1, tzinfo=timezone.utc)
CONSENT = ConsentRecord("opted_in", CURRENT_POLICY_VERSION, START - timedelta(days=1), "bench-consent")
NO_RULES = load_rules({})  # the models alone: rules would only add their own findings


@dataclass
class Row:
    event: Envelope  # the labelled event
    label: bool
    text: str  # what the batch TF-IDF sees
    side: dict[str, float] = field(default_factory=dict)  # non-text columns for the baseline
    #: The row's events before the labelled one (a cresci row's signup), in order.
    context: list[Envelope] = field(default_factory=list)


class ProductPath:
    """Features as the product computes them: the catalogue's plan over an in-memory store (the
    same one ``vigil replay`` uses), so a model sees only what events can carry. One per
    stream: state (counts, each user's signup and profile) builds up as the rows stream."""

    def __init__(self) -> None:
        self.store = MemoryFeatureStore()

    def features(self, event: Envelope) -> dict[str, Any]:
        return assemble(event, self.store.execute_sync(plan_features(event)))


@dataclass
class DataSet:
    name: str
    kind: str
    model: Callable[[], OnlineModel]
    rows: list[Row]
    orders: list[int | None]
    note: str = ""


def _event(event_type: str, subject: str, payload: dict[str, Any], i: int) -> Envelope:
    return decode_event_obj({
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{event_type}:{i}")),
        "type": event_type, "schema_version": "1.0",
        "occurred_at": (START + timedelta(minutes=i)).isoformat(), "producer": "bench",
        "subject_id": subject, "payload": payload,
    })


def _clip(text: str, n: int) -> str:
    return text[:n]


def load_sms(path: Path) -> list[Row]:
    """UCI SMS Spam Collection as ``message.sent``: the SMS is the message text; every message
    comes from its own sender to its own recipient, without a contract (SMS have neither)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, r in enumerate(csv.DictReader(f)):
            text = _clip(r["text"], 20_000)
            event = _event("message.sent", f"sms_s{i}", {
                "message_id": f"sms{i}", "thread_id": f"sms_t{i}", "sender_id": f"sms_s{i}",
                "recipient_id": f"sms_r{i}", "text": text, "has_active_contract": False}, i)
            rows.append(Row(event, r["label"] == "spam", text))
    return rows


def load_youtube(path: Path) -> list[Row]:
    """UCI YouTube Spam Collection as ``proposal.submitted``: the comment is the cover letter,
    the video the job. The set has no behaviour stream (1,792 distinct authors for 1,956
    comments), so the behaviour features keep their defaults: this measures the text part."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, r in enumerate(csv.DictReader(f)):
            text = _clip(r["CONTENT"], 20_000)
            event = _event("proposal.submitted", f"yt_a{i}", {
                "proposal_id": f"yt{i}", "job_id": f"video_{r['VIDEO']}", "freelancer_id": f"yt_a{i}",
                "cover_letter": text, "bid_amount": 0.0, "connects_spent": 0}, i)
            rows.append(Row(event, r["CLASS"] == "1", text))
    return rows


#: The profile fields a cresci row maps onto (bench.cresci), given to the batch baseline too.
CRESCI_COUNTS = ("completed_jobs", "followers", "following")
CRESCI_FLAGS = ("has_photo",)


def load_cresci(path: Path) -> list[Row]:
    """cresci-2015 (genuine E13 vs bought INT followers) as a ``user.signed_up`` and a
    ``profile.updated`` per account (:func:`bench.cresci.cresci_events`, where the mapping of
    columns onto profile fields is documented); the profile is the labelled event. The
    baseline gets the same fields: the overview as text, the mapped counts and flags."""
    rows = []
    for events, label in cresci_events(path):
        decoded = [decode_event_obj(e) for e in events]
        profile = events[LABELLED]["payload"]
        side = {k: log_scale(profile.get(k, 0), 1_000_000) for k in CRESCI_COUNTS}
        side.update({k: float(profile.get(k, False)) for k in CRESCI_FLAGS})
        rows.append(Row(decoded[LABELLED], label, profile.get("overview", ""), side,
                        context=decoded[:LABELLED]))
    return rows


# ---- metrics ---------------------------------------------------------------------------------


def prf(labels: Sequence[bool], fired: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(1 for y, p in zip(labels, fired) if y and p)
    fp = sum(1 for y, p in zip(labels, fired) if not y and p)
    fn = sum(1 for y, p in zip(labels, fired) if y and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def roc_auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Mann-Whitney U with average ranks for ties."""
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return float("nan")
    rank_sum = sum(r for r, y in zip(ranks, labels) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


# ---- online, test-then-train through the core ------------------------------------------------


def score(model: OnlineModel, path: ProductPath, event: Envelope) -> Any:
    """Decide one event through the product's path; a model with an unsupervised part observes
    what it scored, as the worker and replay make it. None if the model does not score it."""
    context = Context(features=path.features(event), consent=CONSENT)
    results = decide(event, context, NO_RULES, [model]).results
    if not results:
        return None
    (result,) = results
    assert result.skipped is None, result.skipped
    if model.observes_unlabelled:
        observe_unlabelled(model, result.model_input, consent_at_event=CONSENT,
                           consent_now=CONSENT, event_time=event.occurred_at)
    return result


def stream(model: OnlineModel, rows: Sequence[Row]) -> tuple[list[bool], list[bool], list[float]]:
    labels, fired, scores = [], [], []
    path = ProductPath()
    for row in rows:
        for event in row.context:
            score(model, path, event)
        result = score(model, path, row.event)
        outcome = learn_from_label(model, result.model_input, row.label, consent_at_event=CONSENT,
                                   consent_now=CONSENT, event_time=row.event.occurred_at)
        assert outcome.learned, outcome.reason
        labels.append(row.label)
        fired.append(result.fired)
        scores.append(result.score)
    return labels, fired, scores


def ordered(rows: list[Row], seed: int | None) -> list[Row]:
    if seed is None:
        return rows
    out = list(rows)
    random.Random(seed).shuffle(out)
    return out


def evaluate_online(ds: DataSet) -> dict[str, Any]:
    runs = []
    model = None
    for seed in ds.orders:
        model = ds.model()
        labels, fired, scores = stream(model, ordered(ds.rows, seed))
        runs.append((*prf(labels, fired), roc_auc(labels, scores)))
    assert model is not None
    mean = [statistics.fmean(r[i] for r in runs) for i in range(4)]
    return {"precision": mean[0], "recall": mean[1], "f1": mean[2], "auc": mean[3],
            "f1_min": min(r[2] for r in runs), "metrics": model.metrics()}


def evaluate_anomaly_phase(rows: Sequence[Row], fake_share: float = 0.05,
                           orders: Sequence[int] = (0,)) -> dict[str, Any]:
    """The signup model before any label: Half-Space Trees only, on every genuine row plus
    enough fakes to make them ``fake_share`` of the stream (anomaly detection presumes fraud is
    rare; in the full set fakes are 47 %, all alike, and it is the genuine accounts that stand
    out). Counts only the rows scored once the model left its cold start."""
    genuine = [r for r in rows if not r.label]
    fakes = [r for r in rows if r.label]
    runs = []
    for seed in orders:
        rng = random.Random(seed)
        n_fake = round(len(genuine) * fake_share / (1 - fake_share))
        sample = genuine + rng.sample(fakes, n_fake)
        rng.shuffle(sample)
        model = FakeSignupModel(BENCH_KEY, min_labels_per_class=10**9)  # never supervised
        labels, fired, scores = [], [], []
        path = ProductPath()
        for row in sample:
            for event in row.context:
                score(model, path, event)
            result = score(model, path, row.event)
            if result.evidence.get("mode") == "anomaly":
                labels.append(row.label)
                fired.append(result.fired)
                scores.append(result.score)
        runs.append((*prf(labels, fired), roc_auc(labels, scores), len(labels)))
    mean = [statistics.fmean(r[i] for r in runs) for i in range(5)]
    return {"precision": mean[0], "recall": mean[1], "f1": mean[2], "auc": mean[3],
            "rows": int(mean[4]), "fake_share": fake_share}


# ---- batch baseline ----------------------------------------------------------------------------


def evaluate_batch(ds: DataSet) -> dict[str, Any]:
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    texts = [r.text for r in ds.rows]
    y = np.array([r.label for r in ds.rows])
    side = DictVectorizer().fit_transform([r.side for r in ds.rows]) if ds.rows[0].side else None
    best: dict[str, Any] = {}
    for class_weight in (None, "balanced"):
        proba = np.zeros(len(y))
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        for train, test in folds.split(texts, y):
            tfidf = TfidfVectorizer().fit([texts[i] for i in train])
            a = tfidf.transform([texts[i] for i in train])
            b = tfidf.transform([texts[i] for i in test])
            if side is not None:
                a, b = hstack([a, side[train]]).tocsr(), hstack([b, side[test]]).tocsr()
            clf = LogisticRegression(max_iter=2000, class_weight=class_weight).fit(a, y[train])
            proba[test] = clf.predict_proba(b)[:, 1]
        pred = proba >= 0.5
        f1 = f1_score(y, pred)
        if not best or f1 > best["f1"]:
            best = {"f1": f1, "precision": precision_score(y, pred), "recall": recall_score(y, pred),
                    "auc": roc_auc_score(y, proba), "class_weight": class_weight or "none"}
    return best


# ---- throughput --------------------------------------------------------------------------------


def pin_one_core() -> str:
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def throughput(rows: Sequence[Row], seconds: float = 3.0) -> dict[str, float]:
    """Messages per second through the scam-message model: ``detect`` alone on a trained
    model (featurize, with masking, + score + explanation + result), and ``detect`` then
    ``learn_from_label`` on a fresh one. Repeats the set until ``seconds`` have passed."""
    trained = ScamMessageModel(BENCH_KEY)
    stream(trained, rows)
    path = ProductPath()
    features = [path.features(row.event) for row in rows]
    out = {}
    for name in ("score", "score+learn"):
        model = trained if name == "score" else ScamMessageModel(BENCH_KEY)
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for row, feats in zip(rows, features):
                result = model.detect(row.event, feats)
                if name == "score+learn":
                    learn_from_label(model, result.model_input, row.label, consent_at_event=CONSENT,
                                     consent_now=CONSENT, event_time=row.event.occurred_at)
            n += len(rows)
        out[name] = n / (time.perf_counter() - started)
    return out


# ---- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--orders", type=int, default=5, help="random stream orders per data set")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per throughput figure")
    args = parser.parse_args(argv)

    root: Path = args.datasets
    files = {
        "sms": root / "sms_spam_uci" / "sms_spam.csv",
        "youtube": root / "youtube_spam_uci" / "youtube_spam_all.csv",
        "cresci": root / "twitter_fake_profiles_cresci2015" / "profiles.csv",
    }
    if not root.is_dir() or not any(p.exists() for p in files.values()):
        print(f"no data sets under {root}: nothing to evaluate (they live in ../shared/datasets; "
              "see its PROVENANCE.md files)")
        return 0
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("scikit-learn is missing: pip install -e '.[bench]'")
        return 0

    seeds = list(range(args.orders))
    sets = []
    if files["sms"].exists():
        sets.append(DataSet("SMS spam", "messages", lambda: ScamMessageModel(BENCH_KEY),
                            load_sms(files["sms"]), [None, *seeds]))
    if files["youtube"].exists():
        sets.append(DataSet("YouTube comment spam", "proposals", lambda: ProposalSpamModel(BENCH_KEY),
                            load_youtube(files["youtube"]), seeds))
    if files["cresci"].exists():
        sets.append(DataSet("cresci-2015 fake followers", "signups", lambda: FakeSignupModel(BENCH_KEY),
                            load_cresci(files["cresci"]), seeds))

    print(f"{'data set':28} {'rows':>5} {'pos%':>5} | {'online P':>8} {'R':>6} {'F1':>6} "
          f"{'F1 min':>6} {'AUC':>6} | {'batch F1':>8} {'AUC':>6} | {'ratio':>5}")
    ok = True
    for ds in sets:
        online = evaluate_online(ds)
        batch = evaluate_batch(ds)
        ratio = online["f1"] / batch["f1"] if batch["f1"] else math.nan
        ok &= ratio >= 0.95
        pos = 100 * sum(r.label for r in ds.rows) / len(ds.rows)
        print(f"{ds.name + ' (' + ds.kind + ')':28.28} {len(ds.rows):>5} {pos:>5.1f} | "
              f"{online['precision']:>8.3f} {online['recall']:>6.3f} {online['f1']:>6.3f} "
              f"{online['f1_min']:>6.3f} {online['auc']:>6.3f} | {batch['f1']:>8.3f} "
              f"{batch['auc']:>6.3f} | {ratio:>5.3f}")
        m = online["metrics"]
        print(f"{'':28}   last order: {m['labels']} labels, error rate {m['error_rate']:.3f}, "
              f"{m['drift_count']} drift(s); batch class_weight={batch['class_weight']}")
    print(f"target online F1 >= 0.95 x batch F1 on every set: {'met' if ok else 'NOT met'}")
    if files["cresci"].exists():
        a = evaluate_anomaly_phase(next(ds.rows for ds in sets if ds.kind == "signups"),
                                   orders=seeds)
        print(f"signup model before any label (Half-Space Trees only; cresci genuine + fakes at "
              f"{a['fake_share']:.0%}, {a['rows']} rows scored after warm-up): "
              f"P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f} AUC {a['auc']:.3f}")

    if files["sms"].exists():
        where = pin_one_core()
        rates = throughput(load_sms(files["sms"]), args.seconds)
        print(f"scam-message model throughput ({where}): {rates['score']:,.0f} messages/s scored, "
              f"{rates['score+learn']:,.0f} messages/s scored and learned "
              f"(target >= 10,000/s scored: {'met' if rates['score'] >= 10_000 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
