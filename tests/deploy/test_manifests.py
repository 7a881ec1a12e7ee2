"""The deployment assets hang together: YAML and JSON parse, compose and Kubernetes objects
reference what exists, every alert has its runbook, and every metric an alert, recording rule
or dashboard uses is defined in pipeline/metrics.py (so nothing silently queries a misspelt
metric or label)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from schemas.topics import INPUT_TOPICS, OUTPUT_TOPICS, RETENTION_MS
from tests.support.deploy import (
    COMPOSE_FILE,
    DASHBOARDS,
    DEPLOY,
    EXTERNAL_METRICS,
    GRAFANA,
    K8S,
    PROMETHEUS,
    REPO,
    RUNBOOKS,
    TARGET_LABELS,
    alerts,
    dashboard_panels,
    dashboard_queries,
    dashboards,
    load_yaml,
    load_yaml_all,
    promql_names,
    recorded_series,
    recording_rules,
    settings_env_vars,
    vigil_metrics,
    vigil_series,
)

ALL_TOPICS = {*INPUT_TOPICS, *OUTPUT_TOPICS}
SEVERITIES = {"critical", "warning", "info"}


# ---- everything parses ------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]),
                         ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert load_yaml_all(path), f"{path} is empty"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_json_parses(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["uid"] and board["title"] and board["panels"]


# ---- metric and label names -------------------------------------------------------------------

def test_vigil_metrics_are_read_from_pipeline_metrics() -> None:
    metrics = vigil_metrics()
    assert "vigil_consumer_lag" in metrics and metrics["vigil_consumer_lag"].type == "gauge"
    assert "vigil_events_total" in vigil_series()
    assert "vigil_event_to_flag_seconds_bucket" in vigil_series()
    assert vigil_metrics()["vigil_ai_skipped"].labels == {"detector", "reason"}


def test_promql_reader() -> None:
    names = promql_names(
        'sum by (topic) (rate(vigil_events_total{kind=~"a|b"}[5m] offset 1d)) / on () group_left () '
        'histogram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval]))) > 3 * y:z '
        'and count(count_values("v", g)) > 1e3 or label_replace(h, "dst", "$1", "src", "(.*)")')
    assert names.metrics == {"vigil_events_total", "x_bucket", "y:z", "g", "h"}
    assert names.matcher_labels == {"vigil_events_total": {"kind"}}
    assert names.grouping_labels == {"topic", "le"}
    assert names.introduced_labels == {"v", "dst"}


def _check_query(where: str, expr: str, extra_labels: set[str] = frozenset()) -> list[str]:
    """Problems with one expression: unknown metrics, labels no metric in it carries."""
    known = {**vigil_series(),
             **{name: frozenset(labels) for name, (labels, _) in EXTERNAL_METRICS.items()},
             **recorded_series()}
    names = promql_names(expr)
    problems = [f"{where}: unknown metric {m!r} (not in pipeline/metrics.py, recording.yml or "
                f"EXTERNAL_METRICS)" for m in sorted(names.metrics - known.keys())]
    available = set(TARGET_LABELS) | names.introduced_labels | set(extra_labels)
    for metric in names.metrics & known.keys():
        available |= known[metric]
    for metric, labels in names.matcher_labels.items():
        allowed = set(known.get(metric, ())) | TARGET_LABELS
        problems += [f"{where}: {metric} has no label {label!r}" for label in sorted(labels - allowed)]
    problems += [f"{where}: grouping by unknown label {label!r}"
                 for label in sorted(names.grouping_labels - available)]
    return problems


def test_recording_rules_use_defined_metrics_and_labels() -> None:
    problems = []
    for rule in recording_rules():
        problems += _check_query(f"record {rule['record']}", rule["expr"])
        assert ":" in rule["record"], f"{rule['record']}: recording rules are named level:metric:ops"
    assert not problems, "\n".join(problems)


def test_alerts_use_defined_metrics_and_labels() -> None:
    problems = []
    for rule in alerts():
        where = f"alert {rule['alert']}"
        problems += _check_query(where, rule["expr"])
        names = promql_names(rule["expr"])
        available = set(TARGET_LABELS) | names.introduced_labels | set(rule.get("labels", {}))
        for metric in names.metrics:
            available |= set({**vigil_series(), **recorded_series()}.get(metric, ()))
        for text in rule.get("annotations", {}).values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                if label not in available:
                    problems.append(f"{where}: annotation uses $labels.{label}, which the "
                                    f"expression cannot produce")
    assert not problems, "\n".join(problems)


def test_dashboards_use_defined_metrics_and_labels() -> None:
    problems = []
    for board, title, target in dashboard_queries():
        where = f"{board} / {title}"
        assert target.get("expr"), f"{where}: a target without a query"
        problems += _check_query(where, target["expr"])
        names = promql_names(target["expr"])
        available = set(TARGET_LABELS) | names.introduced_labels
        for metric in names.metrics:
            available |= set({**vigil_series(), **recorded_series()}.get(metric, ()))
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
            if label not in available:
                problems.append(f"{where}: legend uses {{{{{label}}}}}, not a label of the query")
    assert not problems, "\n".join(problems)


def test_external_metrics_have_an_exporter_in_compose() -> None:
    services = load_yaml(COMPOSE_FILE)["services"]
    assert "redis-exporter" in services and "kafka-exporter" in services
    jobs = {c["job_name"] for c in load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]}
    assert {"redis", "kafka", "vigil-worker", "vigil-review"} <= jobs


def test_the_check_catches_a_misspelt_metric_and_label() -> None:
    assert _check_query("t", "sum(rate(vigil_event_total[5m]))")
    assert _check_query("t", 'sum by (detecter) (rate(vigil_detector_hits_total[5m]))')
    assert _check_query("t", 'vigil_ai_skipped_total{reasons="unavailable"}')
    assert not _check_query("t", 'sum by (detector) (rate(vigil_ai_skipped_total{reason="x"}[5m]))')


# ---- alerts and runbooks ----------------------------------------------------------------------

def test_every_alert_has_severity_summary_and_a_runbook_that_exists() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in alerts():
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), name
        url = annotations.get("runbook_url", "")
        assert url.endswith(f"docs/runbooks/{name}.md"), f"{name}: runbook_url {url!r}"
        page = RUNBOOKS / f"{name}.md"
        assert page.is_file(), f"{name}: {page} is missing"
        text = page.read_text()
        assert text.startswith(f"# {name}\n"), f"{page.name} must start with '# {name}'"
        for section in ("## Check", "## Fix"):
            assert section in text, f"{page.name} has no {section!r} section"


def test_every_runbook_belongs_to_an_alert_and_is_indexed() -> None:
    names = {rule["alert"] for rule in alerts()}
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == names, f"runbooks without an alert: {sorted(pages - names)}"
    index = (RUNBOOKS / "README.md").read_text()
    missing = [n for n in names if f"({n}.md)" not in index]
    assert not missing, f"docs/runbooks/README.md does not list {missing}"


def test_readme_lists_every_alert() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Deploying past one machine" in readme
    section = readme.split("### Alerts and runbooks", 1)
    assert len(section) == 2, "README has no 'Alerts and runbooks' section"
    missing = [rule["alert"] for rule in alerts() if rule["alert"] not in section[1]]
    assert not missing, f"README's alert list lacks {missing}"


# ---- Dockerfile -------------------------------------------------------------------------------

def test_dockerfile_runs_vigil_as_non_root_from_python_311_slim() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert stages and all(s == "python:3.11-slim" for s in stages), stages
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert re.search(r'^CMD \["vigil", "worker"\]', text, re.M)
    assert "EXPOSE 9400 8000" in text
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for item in source.split():
            assert (REPO / item).exists(), f"Dockerfile copies missing {item}"


def test_image_gets_every_data_file_the_packages_read() -> None:
    """The image installs Vigil as a regular (non-editable) package, which only carries files
    listed in [tool.setuptools.package-data]; the Dockerfile's build check fails on the same."""
    import fnmatch
    import tomllib

    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"] \
        .get("package-data", {})
    missing = []
    for package in ("schemas", "detectors", "pipeline"):
        root = REPO / package
        for path in root.rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            owner = path.relative_to(REPO).parts[0]
            relative = path.relative_to(REPO / owner).as_posix()
            if not any(fnmatch.fnmatch(relative, glob) for glob in package_data.get(owner, [])):
                missing.append(path.relative_to(REPO).as_posix())
    assert not missing, ("not in [tool.setuptools.package-data], so not in the Docker image: "
                         f"{missing}")


def test_dockerignore_keeps_the_venv_and_state_out() -> None:
    lines = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "*", "the image context should be an allow-list"
    for line in lines:
        if line.startswith("!"):
            assert (REPO / line[1:]).exists(), f".dockerignore allows missing {line[1:]}"
    assert not any(x in lines for x in ("!.venv", "!.vigil", "!.git"))


# ---- compose ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


def _default(value: str) -> str:
    """'${VIGIL_PARTITIONS:-4}' -> '4'."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
    return match.group(1) if match else str(value)


def test_compose_has_the_whole_stack(compose: dict) -> None:
    assert {"kafka", "kafka-init", "redis", "prometheus", "grafana", "worker", "review"} \
        <= compose["services"].keys()


def test_compose_kafka_is_kraft_with_auto_create_off(compose: dict) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    assert not any("ZOOKEEPER" in key for key in env)
    assert env["KAFKA_LOG_DIRS"] in {v.split(":")[1] for v in kafka["volumes"]}


def created_topics(script: str, topics: str, tmp_path: Path) -> dict[str, list[str]]:
    """Run a topic-creation script in /bin/sh with ``kafka-topics.sh`` replaced by a stub
    that records its arguments; topic -> the arguments it was created with."""
    calls = tmp_path / "calls"
    stub = tmp_path / "kafka-topics.sh"
    stub.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> {calls}\n'
                    f'echo --- >> {calls}\n')
    stub.chmod(0o755)
    subprocess.run(["/bin/sh", "-c", script.replace("/opt/kafka/bin/kafka-topics.sh", str(stub))],
                   env={"VIGIL_TOPICS": topics, "VIGIL_PARTITIONS": "4", "PATH": "/usr/bin:/bin",
                        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "REPLICATION_FACTOR": "3",
                        "MIN_INSYNC_REPLICAS": "2"}, check=True)
    out = {}
    for call in calls.read_text().split("---\n"):
        args = call.split()
        if "--create" in args:
            out[args[args.index("--topic") + 1]] = args
    return out


def assert_created_with_retention(created: dict[str, list[str]]) -> None:
    assert set(created) == ALL_TOPICS
    for topic, args in created.items():
        configs = [args[i + 1] for i, a in enumerate(args) if a == "--config"]
        assert f"retention.ms={RETENTION_MS[topic]}" in configs, (topic, configs)
        assert args[args.index("--partitions") + 1] == "4"


def test_compose_init_creates_every_vigil_topic_with_partitions_from_env(compose: dict,
                                                                        tmp_path: Path) -> None:
    init = compose["services"]["kafka-init"]
    assert init["environment"]["VIGIL_PARTITIONS"].startswith("${VIGIL_PARTITIONS")
    script = "\n".join(init["command"])
    assert '--partitions "$$VIGIL_PARTITIONS"' in script and "--if-not-exists" in script
    # As compose runs it: $$ is its escape for $. Each topic gets its retention.ms.
    created = created_topics(script.replace("$$", "$"), init["environment"]["VIGIL_TOPICS"],
                             tmp_path)
    assert_created_with_retention(created)
    for name in ("worker", "review"):
        depends = compose["services"][name]["depends_on"]
        assert depends["kafka-init"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"


def test_compose_redis_uses_the_append_only_file(compose: dict) -> None:
    command = compose["services"]["redis"]["command"]
    args = dict(zip(command[1::2], command[2::2]))
    assert args["--appendonly"] == "yes"
    assert args["--appendfsync"] in {"always", "everysec"}
    assert args["--maxmemory-policy"] == "noeviction"


def test_compose_workers_and_review(compose: dict) -> None:
    services = compose["services"]
    worker, review = services["worker"], services["review"]
    assert worker["command"] == ["vigil", "worker"]
    assert review["command"] == ["python", "-m", "pipeline.review"]
    assert worker["deploy"]["replicas"] == 2
    env = worker["environment"]
    assert worker["deploy"]["replicas"] <= int(_default(env["VIGIL_PARTITIONS"])), \
        "more workers than partitions would sit idle"
    assert env["VIGIL_METRICS_PORT"] == "9400" and env["VIGIL_CREATE_TOPICS"] == "0"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert "8000:8000" in review["ports"]
    assert env["VIGIL_REVIEW_HOST"] == "0.0.0.0" and env["VIGIL_REVIEW_PORT"] == "8000"


def test_compose_env_vars_are_ones_vigil_reads(compose: dict) -> None:
    known = settings_env_vars()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "VIGIL_PARTITIONS"} <= known
    env = compose["services"]["worker"]["environment"]
    unknown = set(env) - known
    assert not unknown, f"pipeline/settings.py does not read {sorted(unknown)}"


def test_compose_prometheus_scrapes_workers_and_review_on_their_ports(compose: dict) -> None:
    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    worker_port = int(compose["services"]["worker"]["environment"]["VIGIL_METRICS_PORT"])
    assert jobs["vigil-worker"]["dns_sd_configs"][0] == {
        "names": ["worker"], "type": "A", "port": worker_port, "refresh_interval": "15s"}
    assert jobs["vigil-review"]["dns_sd_configs"][0]["port"] == 8000
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS / rule_file).is_file()


def test_compose_mounts_and_builds_reference_existing_files(compose: dict) -> None:
    base = COMPOSE_FILE.parent
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = (base / build["context"]).resolve()
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (base / source).exists(), f"{name}: mount source {source} is missing"
            else:
                assert source in compose.get("volumes", {}), f"{name}: undeclared volume {source}"


def test_compose_grafana_provisioning_matches_mounts(compose: dict) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "vigil.yml")["providers"][0]
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (GRAFANA / "dashboards" / Path(home).name).is_file()


def test_docker_compose_config_when_available() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True,
                                        timeout=20).returncode != 0:
        pytest.skip("docker compose is not installed; the YAML checks above still ran")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ---- Grafana ----------------------------------------------------------------------------------

def test_grafana_datasource_and_dashboards() -> None:
    datasource = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    assert datasource["datasources"][0]["type"] == "prometheus"
    boards = dashboards()
    assert {"analysts.json", "oncall.json"} <= boards.keys()
    uids = [b["uid"] for b in boards.values()]
    assert len(uids) == len(set(uids))
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        panels = dashboard_panels(board)
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in panels:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == "${datasource}", f"{name}/{panel['title']}"
            assert panel.get("targets"), f"{name}/{panel['title']} has no query"
            assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()


def test_dashboards_show_what_the_issue_asks_for() -> None:
    def used(board: str) -> set[str]:
        return {m for b, _, t in dashboard_queries() if b == board for m in promql_names(t["expr"]).metrics}
    assert {"vigil_queue_depth", "vigil_queue_oldest_age_seconds", "vigil_sla_breached_cases",
            "vigil_decisions_total", "vigil_flags_published_total"} <= used("analysts.json")
    assert {"vigil_events_total", "vigil_dead_letters_total", "vigil_event_to_flag_seconds_bucket",
            "vigil_flag_to_case_seconds_bucket", "vigil:consumer_lag:sum",
            "vigil_detector_errors_total", "vigil_detector_hits_total", "vigil_ai_skipped_total",
            "vigil_model_error_rate", "vigil_model_drift_total", "vigil_rules_version",
            # live vs backtest hit ratio per rule (VigilRuleAboveBacktest)
            "detector_mode:vigil_rule_hits_per_type_event:ratio15m",
            "detector_mode:vigil_rule_backtest_hit_ratio:max"} \
        <= used("oncall.json")


# ---- Kubernetes -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    """{(kind, name): object} of everything kustomization.yaml lists."""
    kustomization = load_yaml(K8S / "kustomization.yaml")
    objects = {}
    for resource in kustomization["resources"]:
        for obj in load_yaml_all(K8S / resource):
            objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def _pod_specs(objects: dict) -> list[tuple[str, dict, dict]]:
    return [(f"{kind}/{name}", obj["spec"]["template"], obj) for (kind, name), obj in objects.items()
            if kind in {"Deployment", "Job", "StatefulSet", "DaemonSet"}]


def _partitions(k8s: dict) -> int:
    return int(k8s[("ConfigMap", "vigil-config")]["data"]["VIGIL_PARTITIONS"])


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    listed = set(load_yaml(K8S / "kustomization.yaml")["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files - {"secret.template.yaml"}
    for resource in listed:
        assert (K8S / resource).is_file()


def test_every_object_is_in_the_vigil_namespace(k8s: dict) -> None:
    for (kind, name), obj in k8s.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == "vigil", f"{kind}/{name}"
    assert ("Namespace", "vigil") in k8s


def test_containers_have_resources_probes_and_run_as_non_root(k8s: dict) -> None:
    for where, template, obj in _pod_specs(k8s):
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        for container in spec["containers"]:
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[part].keys(), f"{where}: {part}"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            if obj["kind"] == "Deployment":
                ports = {p["name"]: p["containerPort"] for p in container["ports"]}
                for probe in ("livenessProbe", "readinessProbe"):
                    assert probe in container, f"{where}: no {probe}"
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if probe in container:
                        check = container[probe].get("httpGet") or container[probe].get("tcpSocket")
                        assert check["port"] in ports or check["port"] in ports.values(), \
                            f"{where}: {probe} uses undeclared port {check['port']}"


def test_containers_read_config_that_exists(k8s: dict) -> None:
    secret = load_yaml(K8S / "secret.template.yaml")
    for where, template, _ in _pod_specs(k8s):
        for container in template["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in k8s, where
                if "secretRef" in source:
                    assert source["secretRef"]["name"] == secret["metadata"]["name"], where


def test_config_map_and_secret_hold_only_variables_vigil_reads(k8s: dict) -> None:
    known = settings_env_vars()
    config = k8s[("ConfigMap", "vigil-config")]["data"]
    secret = load_yaml(K8S / "secret.template.yaml")
    unknown = (set(config) | set(secret["stringData"])) - known
    assert not unknown, f"pipeline/settings.py does not read {sorted(unknown)}"
    assert not set(config) & set(secret["stringData"]), "a setting in both ConfigMap and Secret"


def test_secret_is_a_template_without_real_secrets() -> None:
    secret = load_yaml(K8S / "secret.template.yaml")
    assert secret["kind"] == "Secret" and "data" not in secret
    for key, value in secret["stringData"].items():
        assert "CHANGE_ME" in value, f"{key} looks like a real value"


def test_worker_deployment_fits_the_partitions(k8s: dict) -> None:
    partitions = _partitions(k8s)
    worker = k8s[("Deployment", "vigil-worker")]
    assert worker["spec"]["replicas"] <= partitions
    assert worker["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["vigil", "worker"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == int(k8s[("ConfigMap", "vigil-config")]["data"]["VIGIL_METRICS_PORT"])
    assert k8s[("ConfigMap", "vigil-config")]["data"]["VIGIL_CREATE_TOPICS"] == "0"


def test_review_listens_on_all_interfaces_on_its_service_port(k8s: dict) -> None:
    config = k8s[("ConfigMap", "vigil-config")]["data"]
    assert config["VIGIL_REVIEW_HOST"] == "0.0.0.0"
    (container,) = k8s[("Deployment", "vigil-review")]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "pipeline.review"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == int(config["VIGIL_REVIEW_PORT"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_hpa_scales_workers_on_lag_up_to_the_partitions(k8s: dict) -> None:
    hpa = k8s[("HorizontalPodAutoscaler", "vigil-worker")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "vigil-worker"}
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= _partitions(k8s)
    (metric,) = hpa["metrics"]
    assert metric["type"] == "External"
    adapter = load_yaml(K8S / "prometheus-adapter" / "values.yaml")["rules"]["external"]
    served = {rule["name"]["as"]: rule for rule in adapter}
    rule = served[metric["external"]["metric"]["name"]]
    assert promql_names(rule["seriesQuery"]).metrics == {"vigil_consumer_lag"}
    assert promql_names(rule["metricsQuery"]).metrics == set()  # the series comes from seriesQuery
    query = rule["metricsQuery"].replace("<<.Series>>", "vigil_consumer_lag")
    problems = _check_query("adapter metricsQuery", query) + \
        _check_query("adapter seriesQuery", rule["seriesQuery"])
    assert not problems, problems


def test_topics_job_creates_every_vigil_topic(k8s: dict, tmp_path: Path) -> None:
    job = k8s[("Job", "vigil-topics")]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert '--partitions "$VIGIL_PARTITIONS"' in container["args"][0]
    created = created_topics(container["args"][0], env["VIGIL_TOPICS"], tmp_path)
    assert_created_with_retention(created)
    assert all("min.insync.replicas=2" in args for args in created.values())


def test_selectors_match_pods(k8s: dict) -> None:
    pods = {name: obj["spec"]["template"]["metadata"]["labels"]
            for (kind, name), obj in k8s.items() if kind == "Deployment"}

    def matches(selector: dict) -> list[str]:
        return [n for n, labels in pods.items() if selector.items() <= labels.items()]

    for (kind, name), obj in k8s.items():
        if kind == "Deployment":
            assert obj["spec"]["selector"]["matchLabels"].items() <= pods[name].items()
        if kind == "PodDisruptionBudget":
            assert matches(obj["spec"]["selector"]["matchLabels"]) == [name], f"PDB {name}"
        if kind == "Service":
            targets = matches(obj["spec"]["selector"])
            assert targets == [name], f"Service {name} selects {targets}"
            (container,) = k8s[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
            names = {p["name"] for p in container["ports"]}
            for port in obj["spec"]["ports"]:
                assert port["targetPort"] in names, f"Service {name}: targetPort {port['targetPort']}"


def test_monitors_scrape_declared_ports_with_the_alert_job_names(k8s: dict) -> None:
    listed = load_yaml(K8S / "monitoring" / "kustomization.yaml")["resources"]
    monitors = {obj["kind"]: obj for r in listed for obj in load_yaml_all(K8S / "monitoring" / r)}
    worker_ports = {p["name"] for p in
                    k8s[("Deployment", "vigil-worker")]["spec"]["template"]["spec"]["containers"][0]["ports"]}
    pod_endpoint = monitors["PodMonitor"]["spec"]["podMetricsEndpoints"][0]
    assert pod_endpoint["port"] in worker_ports
    assert {"targetLabel": "job", "replacement": "vigil-worker"} in pod_endpoint["relabelings"]
    service_ports = {p["name"] for p in k8s[("Service", "vigil-review")]["spec"]["ports"]}
    service_endpoint = monitors["ServiceMonitor"]["spec"]["endpoints"][0]
    assert service_endpoint["port"] in service_ports
    assert {"targetLabel": "job", "replacement": "vigil-review"} in service_endpoint["relabelings"]
    jobs = {m for rule in alerts() for m in re.findall(r'job="([^"]+)"', rule["expr"])}
    assert {"vigil-worker", "vigil-review"} <= jobs


def test_kubectl_kustomize_renders_when_available() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the YAML checks above still ran")
    for directory in (K8S, K8S / "monitoring"):
        result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert list(yaml.safe_load_all(result.stdout))


# ---- secrets and defaults ---------------------------------------------------------------------

@pytest.mark.parametrize("service", ["worker", "review"])
def test_compose_requires_a_model_hash_key_and_says_how_to_make_one(compose: dict,
                                                                     service: str) -> None:
    env = compose["services"][service]["environment"]
    match = re.fullmatch(r"\$\{VIGIL_MODEL_HASH_KEY:\?(.+)\}", str(env["VIGIL_MODEL_HASH_KEY"]))
    assert match, "the worker's key must be a required variable (${VIGIL_MODEL_HASH_KEY:?why})"
    assert "secrets.token_hex(32)" in match.group(1)
    assert env["VIGIL_METRICS_HOST"] == "0.0.0.0", "Prometheus scrapes workers from its container"


@pytest.mark.parametrize("deployment", ["vigil-worker", "vigil-review"])
def test_k8s_workers_take_the_model_hash_key_from_the_secret(k8s: dict, deployment: str) -> None:
    (container,) = k8s[("Deployment", deployment)]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    ref = env["VIGIL_MODEL_HASH_KEY"]["valueFrom"]["secretKeyRef"]
    secret = load_yaml(K8S / "secret.template.yaml")
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] == "VIGIL_MODEL_HASH_KEY"
    assert ref.get("optional") is not True, "a missing key must stop the pod, not start it keyless"
    assert "VIGIL_MODEL_HASH_KEY" in secret["stringData"]
    assert "secrets.token_hex(32)" in (K8S / "secret.template.yaml").read_text()
    config = k8s[("ConfigMap", "vigil-config")]["data"]
    assert "VIGIL_MODEL_HASH_KEY" not in config
    assert config["VIGIL_METRICS_HOST"] == "0.0.0.0"


def test_no_deployment_file_claims_to_be_the_embedded_stack() -> None:
    for path in [*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]:
        assert "VIGIL_EMBEDDED" not in path.read_text(), f"{path}: VIGIL_EMBEDDED is for vigil up only"
