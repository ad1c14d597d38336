"""The Kubernetes manifest for runs across machines stays consistent (the Compose file: e2e/test_deploy.py)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from load_tests.launch.cli import build_parser
from load_tests.launch.settings import load_settings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


def _defaults(value: str) -> str:
    """``${NAME:-default}`` -> default, as Compose does with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _settings(command: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Parse a container's command with our real parser and settings, as the container would."""
    assert command[:2] == ["python", "run_load_tests.py"], command
    args = build_parser().parse_args([_defaults(a) for a in command[2:]])
    return args, load_settings(vars(args), env=env or {})


def _flag(command: list[str], flag: str) -> str:
    return _defaults(command[command.index(flag) + 1])


def test_kubernetes_manifest_is_consistent() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "load-test.yaml").read_text())}
    assert set(docs) == {"ConfigMap", "Service", "PersistentVolumeClaim", "Job", "Deployment"}
    for doc in docs.values():
        assert doc["apiVersion"] and doc["metadata"]["name"].startswith("load-test")
    env = {k: str(v) for k, v in docs["ConfigMap"]["data"].items()}
    job, workers = docs["Job"]["spec"]["template"]["spec"], docs["Deployment"]["spec"]
    [master_container], [worker_container] = job["containers"], workers["template"]["spec"]["containers"]
    _, master = _settings(master_container["command"], env)
    _, worker = _settings(worker_container["command"], env)
    assert master.distribution.mode == "master" and master.distribution.workers == workers["replicas"]
    assert worker.distribution.master_host == docs["Service"]["metadata"]["name"]
    port = docs["Service"]["spec"]["ports"][0]
    assert port["port"] == port["targetPort"] == master.distribution.master_port == worker.distribution.master_port
    assert docs["Service"]["spec"]["selector"] == docs["Job"]["spec"]["template"]["metadata"]["labels"]
    assert workers["selector"]["matchLabels"] == workers["template"]["metadata"]["labels"]
    assert master_container["image"] == worker_container["image"]
    claim = job["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert "api-key" not in str(docs["ConfigMap"]).lower()  # secrets come from a Secret, never the manifest
    assert not Path(REPO_ROOT / ".dockerignore").read_text().count("requirements")
