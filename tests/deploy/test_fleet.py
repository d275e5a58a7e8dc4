"""The fleet shapes (deploy/k8s/fleet, deploy/docker-compose.fleet.yml): >= 2 stateless replicas on PostgreSQL
and Redis, an HPA, and everything agreeing with the proxy's settings and the image."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from proxy.config import compile_settings
from proxy.settings import parse_settings
from tests.deploy import test_manifests as m

FLEET_CONFIG = m.DEPLOY / "config" / "fleet.yaml"
COMPOSE_FLEET = m.DEPLOY / "docker-compose.fleet.yml"
COMPOSE_FLEET_CONFIG = m.DEPLOY / "compose" / "fleet.yaml"
MODE = "fleet"


def raw(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (FLEET_CONFIG, COMPOSE_FLEET_CONFIG):
        for name in m.env_names(raw(path)):
            monkeypatch.setenv(name, f"test-value-for-{name}")


@pytest.mark.parametrize("path", [FLEET_CONFIG, COMPOSE_FLEET_CONFIG], ids=["k8s", "compose"])
def test_fleet_configs_compile_on_postgresql_and_redis(path: Path, fleet_env: None) -> None:
    compiled = compile_settings(parse_settings(raw(path)))
    settings = compiled.settings
    assert urlsplit(settings.store.url).scheme == "postgresql"
    assert settings.store.password is not None  # from the environment, never in the URL
    assert settings.redis is not None and settings.redis.password is not None
    assert compiled.redis is not None and compiled.quota.rate("library").qps == 50


@pytest.mark.parametrize("obj", m.k8s_docs(MODE), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_fleet_objects_are_schema_valid(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, m.K8S_VERSION, strict=True)


def test_fleet_kustomization_lists_every_manifest() -> None:
    folder = m.DEPLOY / "k8s" / MODE
    kustomization = m.load_docs(folder / "kustomization.yaml")[0]
    assert set(kustomization["resources"]) == {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    (image,) = kustomization["images"]
    assert f"{image['name']}:{image['newTag']}" == m.image_ref()


def test_fleet_configmap_is_the_config_file_mounted_where_cmd_reads_it() -> None:
    configmap = m.one(MODE, "ConfigMap")
    assert yaml.safe_load(configmap["data"]["config.yaml"]) == raw(FLEET_CONFIG)
    container = m.proxy_container(MODE)
    assert container["image"] == m.image_ref()
    assert container.get("args", m.dockerfile_cmd()) == m.dockerfile_cmd()
    volumes = {v["name"]: v for v in m.pod_spec(MODE)["volumes"]}
    mount = {mt["mountPath"]: mt for mt in container["volumeMounts"]}[str(m.config_path_in_cmd().parent)]
    assert volumes[mount["name"]]["configMap"]["name"] == configmap["metadata"]["name"]


def test_fleet_runs_two_or_more_stateless_replicas_under_an_hpa() -> None:
    deployment = m.one(MODE, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # no volume holds state: every pod may run anywhere, any number at once
    volumes = m.pod_spec(MODE)["volumes"]
    assert all("persistentVolumeClaim" not in v for v in volumes)
    assert not [d for d in m.k8s_docs(MODE) if d["kind"] == "PersistentVolumeClaim"]
    hpa = m.one(MODE, "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    assert spec["replicas"] == hpa["spec"]["minReplicas"]
    # PostgreSQL connections: every replica's pool at the HPA's maximum
    assert hpa["spec"]["maxReplicas"] * raw(FLEET_CONFIG)["store"]["pool_max"] <= 100
    container = m.proxy_container(MODE)
    assert container["resources"]["requests"]["cpu"], "an HPA on CPU needs a CPU request"


def test_fleet_pdb_keeps_one_pod_without_blocking_drains() -> None:
    deployment = m.one(MODE, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = m.one(MODE, "PodDisruptionBudget")
    assert m.selector_matches(pdb["spec"]["selector"]["matchLabels"], labels)
    assert 1 <= pdb["spec"]["minAvailable"] < m.one(MODE, "HorizontalPodAutoscaler")["spec"]["minReplicas"]


def test_fleet_services_select_the_fleet_pods() -> None:
    labels = m.one(MODE, "Deployment")["spec"]["template"]["metadata"]["labels"]
    services = [d for d in m.k8s_docs(MODE) if d["kind"] == "Service"]
    assert services and all(m.selector_matches(s["spec"]["selector"], labels) for s in services)
    # the fleet's pods never match the single-replica gateway's selectors (both may run in one namespace)
    gateway_labels = m.one("gateway", "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not m.selector_matches(m.one(MODE, "Deployment")["spec"]["selector"]["matchLabels"], gateway_labels)


def test_fleet_secret_covers_every_secret_the_config_names() -> None:
    secret = m.one(MODE, "Secret")
    keys = set(secret["stringData"])
    provided = set()
    for env in m.proxy_container(MODE)["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in keys
        provided.add(env["name"])
    assert m.env_names(raw(FLEET_CONFIG)) <= provided
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD"} <= provided
    assert all(v.startswith("REPLACE_") for v in secret["stringData"].values())


def test_fleet_pod_is_non_root_read_only_with_only_tmp_writable() -> None:
    pod, container = m.pod_spec(MODE), m.proxy_container(MODE)
    merged = {**pod.get("securityContext", {}), **container["securityContext"]}
    assert merged["runAsNonRoot"] is True and merged["runAsUser"] == m.dockerfile_uid()
    assert merged["readOnlyRootFilesystem"] is True and merged["allowPrivilegeEscalation"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {mt["mountPath"] for mt in container["volumeMounts"] if not mt.get("readOnly")}
    assert writable == {"/tmp"} and "emptyDir" in volumes["tmp"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pod["terminationGracePeriodSeconds"] > raw(FLEET_CONFIG)["drain"]["grace_s"] + int(pre_stop[1])


def test_the_single_replica_shapes_stay_sqlite() -> None:
    for mode in ("sidecar", "gateway"):
        assert urlsplit(m.raw_config(mode)["store"]["url"]).scheme == "sqlite"
        assert "redis" not in m.raw_config(mode)


# ---------------------------------------------------------------- compose


def compose_fleet() -> dict[str, Any]:
    return raw(COMPOSE_FLEET)


def test_compose_fleet_runs_two_proxies_after_postgres_redis_and_the_emulator() -> None:
    services = compose_fleet()["services"]
    assert set(services) == {"postgres", "redis", "emulator", "faces", "v1proxy", "app"}
    proxy = services["v1proxy"]
    assert proxy["deploy"]["replicas"] >= 2
    assert "ports" not in proxy  # two replicas cannot share a host port
    assert proxy["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("emulator", "postgres", "redis")
    }
    for name, service in services.items():
        for dep, cond in service.get("depends_on", {}).items():
            if cond["condition"] == "service_healthy":
                assert services[dep]["healthcheck"]["test"][0] == "CMD", f"{name} waits on {dep} without a check"
    assert services["app"]["depends_on"]["v1proxy"] == {"condition": "service_healthy"}
    aliases = proxy["networks"]["legacy"]["aliases"]
    assert set(aliases) >= m.V1_HOSTS


def test_compose_fleet_proxy_config_names_the_compose_services_and_gets_its_secrets() -> None:
    services = compose_fleet()["services"]
    proxy = services["v1proxy"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in proxy["volumes"])
    config_file = (COMPOSE_FLEET.parent / next(k for k, v in mounts.items() if v == str(m.config_path_in_cmd())))
    assert config_file.resolve() == COMPOSE_FLEET_CONFIG.resolve()
    config = raw(COMPOSE_FLEET_CONFIG)
    assert m.env_names(config) <= set(proxy["environment"])
    store, redis = urlsplit(config["store"]["url"]), urlsplit(config["redis"]["url"])
    assert store.hostname == "postgres" and redis.hostname == "redis"
    pg = services["postgres"]["environment"]
    assert (store.username, store.path.lstrip("/")) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    assert proxy["environment"]["POSTGRES_PASSWORD"] == pg["POSTGRES_PASSWORD"]
    assert proxy["environment"]["REDIS_PASSWORD"] in services["redis"]["command"]
    networks = set(proxy["networks"])
    assert {"state"} <= networks and "state" in services["postgres"]["networks"]
    assert PurePosixPath(m.config_path_in_cmd()).name == "config.yaml"
