"""Operations files: systemd unit, launchd plist, Dockerfile, compose file, Kubernetes manifests.

They cannot be run here (no systemd as init, no Docker engine, no cluster), so each is
checked by the closest real validator available: ``systemd-analyze verify``, the Compose
Specification and Kubernetes JSON Schemas (vendored in tests/data/schemas), plistlib.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from llmspell.cli.service_cmd import (
    LAUNCHD_DEFAULTS,
    SYSTEMD_DEFAULTS,
    ServiceOptions,
    render_service_files,
    stop_timeout_s,
)
from llmspell.core.config import ServerConfig, Settings
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
LLMSPELL = str(Path(sys.executable).with_name("llmspell"))
GRACE = ServerConfig().shutdown_grace_s


def _unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def _env_lines(text: str, *, commented: bool) -> dict[str, str]:
    pattern = r"^#?([A-Z][A-Z0-9_]*)=(.*)$" if commented else r"^([A-Z][A-Z0-9_]*)=(.*)$"
    return dict(re.findall(pattern, text, re.MULTILINE))


# --- systemd and launchd -----------------------------------------------------------------


def test_shipped_systemd_files_are_the_rendered_defaults() -> None:
    unit, env = render_service_files("systemd", SYSTEMD_DEFAULTS)
    assert (ROOT / "systemd" / "llmspell.service").read_text() == unit.text
    assert (ROOT / "systemd" / "llmspell.env.example").read_text() == env.text
    (plist,) = render_service_files("launchd", LAUNCHD_DEFAULTS)
    assert (ROOT / "systemd" / "com.llmspell.serve.plist").read_text() == plist.text
    assert SYSTEMD_DEFAULTS.shutdown_grace_s == GRACE


def test_unit_runs_serve_hardened_and_stops_after_the_grace_period() -> None:
    unit = _unit_settings((ROOT / "systemd" / "llmspell.service").read_text())
    assert unit["Type"] == ["simple"]
    assert unit["ExecStart"] == ["/opt/llmspell/.venv/bin/llmspell serve"]
    assert unit["EnvironmentFile"] == ["-/etc/llmspell/llmspell.env"]
    assert unit["User"] == ["llmspell"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ReadWritePaths"] == ["/var/lib/llmspell"]
    assert "LLMSPELL_DATA_DIR=/var/lib/llmspell" in unit["Environment"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert unit[key] == [value], key
    assert unit["KillSignal"] == ["SIGTERM"]
    assert int(unit["TimeoutStopSec"][0]) == stop_timeout_s(GRACE) > GRACE


def test_env_example_sets_real_settings_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("LLMSPELL_")]:
        monkeypatch.delenv(key)
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("LLMSPELL_CONFIG", str(tmp_path / "empty.toml"))
    text = (ROOT / "systemd" / "llmspell.env.example").read_text()
    active = _env_lines(text, commented=False)
    assert float(active["LLMSPELL_SERVER__SHUTDOWN_GRACE_S"]) == GRACE
    every = {k: v for k, v in _env_lines(text, commented=True).items() if k.startswith("LLMSPELL_")}
    every.pop("LLMSPELL_CONFIG")  # names a file that must exist; checked by the config tests
    overrides: dict[str, Any] = {}
    for key, value in every.items():
        path = key.removeprefix("LLMSPELL_").lower().split("__")
        target = overrides
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    settings = Settings.model_validate(overrides)
    assert settings.server.port == int(active["LLMSPELL_SERVER__PORT"])
    assert settings.database_url is not None and settings.database_url.startswith("postgresql+asyncpg://")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify also checks that ExecStart exists and User= resolves: point them at real ones.
    prefix = tmp_path / "prefix"
    (prefix / ".venv" / "bin").mkdir(parents=True)
    (prefix / ".venv" / "bin" / "llmspell").symlink_to(LLMSPELL)
    options = ServiceOptions(prefix=str(prefix), user="root", data_dir=str(tmp_path / "data"))
    unit, _ = render_service_files("systemd", options)
    path = tmp_path / "llmspell.service"
    path.write_text(unit.text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # verify reports unknown keys and bad values on stderr but still exits 0.
    assert str(path) not in result.stderr and "llmspell.service" not in result.stderr, result.stderr


def test_systemd_analyze_verify_would_catch_a_bad_directive(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    path = tmp_path / "bad.service"
    path.write_text("[Service]\nExecStart=/bin/true\nProtectSystem=bananas\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert "bad.service" in result.stderr


def test_launchd_plist_parses_and_runs_serve() -> None:
    with (ROOT / "systemd" / "com.llmspell.serve.plist").open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["Label"] == "com.llmspell.serve"
    assert plist["ProgramArguments"] == ["/opt/llmspell/.venv/bin/llmspell", "serve"]
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ExitTimeOut"] == stop_timeout_s(GRACE)
    assert plist["EnvironmentVariables"]["LLMSPELL_DATA_DIR"] == plist["WorkingDirectory"]


def test_plist_escapes_xml_in_paths() -> None:
    (plist,) = render_service_files("launchd", ServiceOptions(prefix="/opt/a&b<c>"))
    assert plistlib.loads(plist.text.encode())["ProgramArguments"][0] == "/opt/a&b<c>/.venv/bin/llmspell"


def _install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run(
        [LLMSPELL, "service", "install", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_service_install_writes_rendered_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _install(
        tmp_path, "--systemd", "--prefix", "/srv/llm", "--user", "svc", "--output-dir", str(out)
    )
    assert result.returncode == 0, result.stderr
    unit = _unit_settings((out / "llmspell.service").read_text())
    assert unit["ExecStart"] == ["/srv/llm/.venv/bin/llmspell serve"]
    assert unit["User"] == ["svc"] and unit["Group"] == ["svc"]
    assert (out / "llmspell.env").stat().st_mode & 0o777 == 0o640
    assert "systemctl daemon-reload" in result.stdout

    (out / "llmspell.env").write_text("LLMSPELL_LOG_LEVEL=debug\n")
    again = _install(tmp_path, "--systemd", "--output-dir", str(out))
    assert again.returncode == 2 and "pass --force" in again.stderr and "Traceback" not in again.stderr
    forced = _install(tmp_path, "--systemd", "--output-dir", str(out), "--force", "--shutdown-grace", "50")
    assert forced.returncode == 0, forced.stderr
    assert "kept" in forced.stdout
    assert (out / "llmspell.env").read_text() == "LLMSPELL_LOG_LEVEL=debug\n"
    assert _unit_settings((out / "llmspell.service").read_text())["TimeoutStopSec"] == ["60"]


def test_service_install_launchd_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = _install(tmp_path, "--launchd", "--dry-run", "--prefix", "/usr/local/llmspell")
    assert result.returncode == 0, result.stderr
    assert "/Library/LaunchDaemons/com.llmspell.serve.plist" in result.stdout
    body = result.stdout.split("\n", 1)[1]
    assert plistlib.loads(body.encode())["ProgramArguments"][0] == "/usr/local/llmspell/.venv/bin/llmspell"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --systemd or --launchd"),
        (["--systemd", "--launchd"], "exactly one of --systemd or --launchd"),
        (["--systemd", "--user", "Bad User"], "invalid --user"),
        (["--systemd", "--prefix", "relative/path"], "invalid --prefix"),
        (["--launchd", "--data-dir", "/has space"], "invalid --data-dir"),
    ],
)
def test_service_install_rejects_bad_input_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = _install(tmp_path, *args, "--dry-run")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


# --- Docker and Compose ------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_non_root_with_health_check() -> None:
    steps = _dockerfile()
    stages = [args for op, args in steps if op == "FROM"]
    assert len(stages) >= 2 and all(s.startswith("python:3.11-slim") for s in stages)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    ops = {op: args for op, args in final}
    user = ops["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert any(op == "COPY" and args.startswith("--from=") for op, args in final)
    assert "/health" in ops["HEALTHCHECK"] and "8080" in ops["HEALTHCHECK"]
    assert ops["EXPOSE"].split() == ["8080", "50051"]
    command = json.loads(ops["ENTRYPOINT"]) + json.loads(ops["CMD"])
    assert command == ["llmspell", "serve", "--host", "0.0.0.0"]
    assert ops["STOPSIGNAL"] == "SIGTERM"


def test_dockerignore_keeps_the_build_context_small() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "tests"} <= ignored
    assert not {"service", "pyproject.toml", "README.md"} & ignored


def test_compose_file_matches_the_compose_spec() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]

    services = compose["services"]
    app = services["llmspell"]
    assert app["environment"]["LLMSPELL_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert app["environment"]["LLMSPELL_REDIS_URL"].startswith("redis://redis:")
    assert app["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("llmspell", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    grace = int(app["stop_grace_period"].removesuffix("s"))
    assert grace > float(app["environment"]["LLMSPELL_SERVER__SHUTDOWN_GRACE_S"])


def test_compose_schema_check_is_not_vacuous() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    bad = {"services": {"x": {"image": "a", "depends_on": {"y": {"condition": "whenever"}}}}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


# --- Kubernetes --------------------------------------------------------------------------

K8S = SCHEMAS / "k8s-v1.37.0-strict"


def _k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def _k8s_validator(doc: dict[str, Any]) -> jsonschema.Draft202012Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    schema = json.loads((K8S / f"{doc['kind'].lower()}-{group_version}.json").read_text())
    definitions = json.loads((K8S / "_definitions.json").read_text())
    registry: Registry[Any] = Registry().with_resources(
        [
            (schema["$id"], Resource.from_contents(schema)),
            (definitions["$id"], Resource.from_contents(definitions)),
        ]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _by_kind() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for _, doc in _k8s_documents()}


def test_k8s_manifests_match_the_kubernetes_schemas() -> None:
    docs = _k8s_documents()
    kinds = {doc["kind"] for _, doc in docs}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "Kustomization"} <= kinds
    for name, doc in docs:
        if doc["kind"] == "Kustomization":
            continue
        errors = list(_k8s_validator(doc).iter_errors(doc))
        assert not errors, f"{name}: {[f'{list(e.absolute_path)}: {e.message}' for e in errors]}"


def test_k8s_schema_check_is_not_vacuous() -> None:
    deployment = _by_kind()["Deployment"]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "three"
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert len(list(_k8s_validator(broken).iter_errors(broken))) >= 2


def test_kustomization_lists_existing_files_but_not_the_secret_example() -> None:
    kustomization = _by_kind()["Kustomization"]
    for resource in kustomization["resources"]:
        assert (ROOT / "deploy" / "k8s" / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]


def test_deployment_runs_three_probed_non_root_replicas() -> None:
    deployment = _by_kind()["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    pod = spec["template"]["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["terminationGracePeriodSeconds"] > GRACE
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert "memory" in container["resources"]["limits"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["args"] == ["serve", "--host", "0.0.0.0"]
    sources = {next(iter(s)): next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {"configMapRef": "llmspell", "secretRef": "llmspell"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "grpc": 50051}


def test_service_pdb_and_config_fit_the_deployment() -> None:
    kinds = _by_kind()
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service, pdb = kinds["Service"], kinds["PodDisruptionBudget"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http", "grpc"}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert 0 < pdb["spec"]["minAvailable"] < kinds["Deployment"]["spec"]["replicas"]
    config = kinds["ConfigMap"]["data"]
    assert (
        float(config["LLMSPELL_SERVER__SHUTDOWN_GRACE_S"])
        < kinds["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    )
    secret = kinds["Secret"]
    assert {"LLMSPELL_DATABASE_URL", "LLMSPELL_REDIS_URL"} <= secret["stringData"].keys()
