"""What the deployment tests share: file locations, the metrics Vigil defines, and a small PromQL
reader that finds the metric and label names an expression uses (no PromQL parser in Python
that we depend on, and promtool does not list them)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from pipeline.settings import variable_names
from tests.support.paths import REPO

DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = [PROMETHEUS / "recording.yml", PROMETHEUS / "alerts.yml"]
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
RUNBOOKS = REPO / "docs" / "runbooks"

#: Labels Prometheus or the scrape config attach to every target's series.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "service", "endpoint"}

#: Series that do not come from pipeline/metrics.py, with who produces them. Anything else an
#: alert, recording rule or dashboard uses must be a Vigil metric.
EXTERNAL_METRICS: dict[str, tuple[set[str], str]] = {
    "up": (set(), "Prometheus, one per scrape target"),
    "redis_up": (set(), "redis_exporter (compose service redis-exporter, job redis)"),
    "kafka_brokers": (set(), "kafka-exporter (compose service kafka-exporter, job kafka)"),
}


def load_yaml(path: Path) -> object:
    return yaml.safe_load(path.read_text())


def load_yaml_all(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@dataclass(frozen=True)
class MetricDef:
    name: str          # as registered (counters without _total)
    type: str          # counter, gauge, histogram, summary
    labels: frozenset[str]

    def series(self) -> dict[str, frozenset[str]]:
        """Every series name a scrape of this metric exposes, with its labels."""
        suffixes = {"counter": ["_total", "_created"], "gauge": [""],
                    "histogram": ["_bucket", "_count", "_sum", "_created"],
                    "summary": ["", "_count", "_sum", "_created"]}[self.type]
        return {self.name + s: self.labels | ({"le"} if s == "_bucket" else set())
                | ({"quantile"} if self.type == "summary" and s == "" else set())
                for s in suffixes}


@cache
def vigil_metrics() -> dict[str, MetricDef]:
    """The collectors pipeline/metrics.py defines, read from the live objects."""
    from prometheus_client.metrics import MetricWrapperBase

    import pipeline.metrics as module

    found = {}
    for obj in vars(module).values():
        if isinstance(obj, MetricWrapperBase):
            (family,) = obj.describe()
            found[family.name] = MetricDef(family.name, family.type,
                                           frozenset(getattr(obj, "_labelnames", ())))
    assert found, "pipeline/metrics.py defines no metrics?"
    return found


@cache
def vigil_series() -> dict[str, frozenset[str]]:
    series: dict[str, frozenset[str]] = {}
    for metric in vigil_metrics().values():
        series.update(metric.series())
    return series


# ---- PromQL -----------------------------------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
             "group_right", "offset", "bool", "inf", "nan", "atan2", "start", "end"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_TOKEN = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)")
_INTRODUCED = [re.compile(r'label_replace\s*\(.*?,\s*"([A-Za-z_]\w*)"\s*,\s*"', re.S),
               re.compile(r'label_join\s*\(.*?,\s*"([A-Za-z_]\w*)"\s*,\s*"', re.S),
               re.compile(r'count_values\s*\(\s*"([A-Za-z_]\w*)"')]


@dataclass
class QueryNames:
    metrics: set[str]
    #: {metric: label names used in its selector's matchers}
    matcher_labels: dict[str, set[str]]
    #: label names in by/without/on/ignoring/group_* clauses
    grouping_labels: set[str]
    #: labels the expression creates (label_replace, label_join, count_values)
    introduced_labels: set[str]


def promql_names(expr: str) -> QueryNames:
    """Metric names and label names in a PromQL expression (Grafana variables allowed)."""
    expr = expr.replace("<<.Series>>", "").replace("<<.LabelMatchers>>", "")
    introduced = {m for rx in _INTRODUCED for m in rx.findall(expr)}
    text = _STRING.sub('""', expr)
    matcher_labels: dict[str, set[str]] = {}
    for name, body in _SELECTOR.findall(text):
        matcher_labels.setdefault(name, set()).update(_MATCHER_LABEL.findall(body))
    grouping = set()
    for _, labels in _GROUPING.findall(text):
        grouping.update(label.strip() for label in labels.split(",") if label.strip())
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)          # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)         # ranges and subqueries
    text = re.sub(r"\boffset\s+-?\w+", " ", text)   # offset 1d
    metrics = set()
    for match in _TOKEN.finditer(text):
        token = match.group(1)
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or token.lower() in _KEYWORDS:
            continue  # a function or aggregation, or a keyword
        metrics.add(token)
    metrics.update(matcher_labels)
    return QueryNames(metrics, matcher_labels, grouping, introduced)


# ---- rules, dashboards ------------------------------------------------------------------------

def rule_groups() -> list[tuple[Path, dict]]:
    return [(path, group) for path in RULE_FILES for group in load_yaml(path)["groups"]]


def alerts() -> list[dict]:
    return [rule for path, group in rule_groups() if path.name == "alerts.yml"
            for rule in group["rules"]]


def recording_rules() -> list[dict]:
    return [rule for _, group in rule_groups() for rule in group["rules"] if "record" in rule]


@cache
def recorded_series() -> dict[str, frozenset[str]]:
    """Recording rules' names with the labels their results may carry (an upper bound)."""
    known = {**vigil_series(), **{k: frozenset(v[0] | TARGET_LABELS) for k, v in EXTERNAL_METRICS.items()}}
    out: dict[str, frozenset[str]] = {}
    for rule in recording_rules():
        names = promql_names(rule["expr"])
        labels = set(names.grouping_labels) | names.introduced_labels
        for metric in names.metrics:
            labels |= known.get(metric, out.get(metric, frozenset()))
        out[rule["record"]] = frozenset(labels)
    return out


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def dashboard_panels(board: dict) -> list[dict]:
    panels = []
    for panel in board["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return panels


def dashboard_queries() -> list[tuple[str, str, dict]]:
    """(dashboard file, panel title, target) for every Prometheus query."""
    return [(name, panel["title"], target) for name, board in dashboards().items()
            for panel in dashboard_panels(board) for target in panel.get("targets", [])]


def settings_env_vars() -> set[str]:
    """Environment variables Vigil reads: every setting's (pipeline/settings.py), and any other
    name that appears as a string literal under pipeline/."""
    names = variable_names()
    for path in (REPO / "pipeline").rglob("*.py"):
        names |= set(re.findall(r"[\"']((?:VIGIL|KAFKA|REDIS)_[A-Z0-9_]+)[\"']", path.read_text()))
    return names
