"""The deployment files are valid against their formats' published schemas, so a misspelt or
misplaced field fails here rather than at ``docker compose up`` or ``kubectl apply``.

Kubernetes objects are checked strictly (unknown fields rejected) with kubernetes-validate, which
ships the API's JSON schemas, against the oldest and newest versions the manifests are for. The
compose file is checked against the Compose Specification's schema as vendored by
check-jsonschema. Both work offline; neither needs a cluster or a Docker engine.
"""

from __future__ import annotations

import copy
import json
from importlib import resources

import jsonschema
import kubernetes_validate
import pytest

from tests.support.deploy import COMPOSE_FILE, K8S, load_yaml, load_yaml_all

#: The oldest release the manifests are meant for (they use autoscaling/v2 and policy/v1, GA
#: since 1.23 and 1.21, so older would do too) and the newest whose schemas kubernetes-validate
#: ships.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
#: Custom resources, whose schemas come from the prometheus-operator CRDs and are not shipped.
CUSTOM_KINDS = {"PodMonitor", "ServiceMonitor"}


def _manifests() -> list[tuple[str, dict]]:
    """(file/kind/name, object) of every Kubernetes object under deploy/k8s, the secret template
    and the optional monitoring objects included."""
    out = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "prometheus-adapter" in path.parts:
            continue  # kustomize's own config; Helm values for someone else's chart
        for obj in load_yaml_all(path):
            out.append((f"{path.relative_to(K8S)}:{obj['kind']}/{obj['metadata']['name']}", obj))
    return out


MANIFESTS = _manifests()


def _validate_k8s(obj: dict, version: str) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("where,obj", [m for m in MANIFESTS if m[1]["kind"] not in CUSTOM_KINDS],
                         ids=[w for w, o in MANIFESTS if o["kind"] not in CUSTOM_KINDS])
def test_kubernetes_object_is_valid(where: str, obj: dict, version: str) -> None:
    _validate_k8s(obj, version)


def test_the_manifests_cover_the_workloads_and_the_custom_kinds_are_only_monitors() -> None:
    kinds = {obj["kind"] for _, obj in MANIFESTS}
    assert {"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service",
            "ConfigMap", "Secret", "Job", "Namespace"} <= kinds
    for _, obj in MANIFESTS:
        if obj["kind"] in CUSTOM_KINDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"


def _worker() -> dict:
    return next(obj for where, obj in MANIFESTS if where.endswith("Deployment/vigil-worker"))


def test_kubernetes_check_rejects_a_misspelt_field_and_a_wrong_type() -> None:
    misspelt = copy.deepcopy(_worker())
    container = misspelt["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        _validate_k8s(misspelt, KUBERNETES_VERSIONS[0])
    wrong_type = copy.deepcopy(_worker())
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_k8s(wrong_type, KUBERNETES_VERSIONS[0])


# ---- compose ----------------------------------------------------------------------------------

def _compose_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((resources.files("check_jsonschema.builtin_schemas.vendor")
                         / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _compose_errors(document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _compose_validator().iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert _compose_errors(load_yaml(COMPOSE_FILE)) == []


def test_compose_check_rejects_a_misspelt_option_and_an_unknown_condition() -> None:
    compose = load_yaml(COMPOSE_FILE)
    misspelt = copy.deepcopy(compose)
    misspelt["services"]["worker"]["restrat"] = misspelt["services"]["worker"].pop("restart")
    assert any("restrat" in error for error in _compose_errors(misspelt))
    unknown = copy.deepcopy(compose)
    (name, dependency), *_ = unknown["services"]["worker"]["depends_on"].items()
    dependency["condition"] = "service_healty"
    # depends_on is a list or a mapping (oneOf), so the error is reported on depends_on.
    assert any(error.startswith("services/worker/depends_on") and "service_healty" in error
               for error in _compose_errors(unknown))
