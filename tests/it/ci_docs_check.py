"""Checks the CI recipes of docs/ci/ offline: each YAML file parses, has the shape its CI
system reads, logs in with --password-stdin only, and every `builder` command line in it
is expanded by sh (as the CI job's shell would, with stand-in values for the CI's
variables) into an argv. Prints {"commands": [[argv...], ...]} as JSON for the caller to
run against builder's own command-line parser.
"""

import json
import re
import subprocess
import sys

import yaml

STAND_INS = {
    "IMAGE": "ghcr.io/o/app",
    "USER": "runner",
    "CI_REGISTRY": "registry.gitlab.example",
    "CI_REGISTRY_IMAGE": "registry.gitlab.example/g/app",
    "CI_REGISTRY_USER": "gitlab-ci-token",
    "CI_COMMIT_SHORT_SHA": "0123abcd",
    "CI_COMMIT_REF_SLUG": "topic-x",
    "CI_DEFAULT_BRANCH": "main",
    "PATH": "/usr/bin:/bin",
}


def strings(node):
    """Every string in a YAML document, depth first."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def builder_lines(doc):
    """The shell lines of `doc` that run builder."""
    for text in strings(doc):
        for line in text.splitlines():
            line = line.strip()
            if re.match(r"^(echo .*\| *)?builder ", line):
                yield line


def argv(line):
    """`line` expanded by sh with the stand-in variables; builder's argv."""
    line = re.sub(r"\$\{\{[^}]*\}\}", "x", line)
    script = 'builder() { printf "%s\\0" builder "$@"; }; ' + line
    out = subprocess.run(["sh", "-c", script], env=STAND_INS, capture_output=True, check=True)
    return out.stdout.decode().split("\0")[:-1]


def check_github(doc):
    # YAML 1.1 reads the key `on` as true.
    assert doc.get("on", doc.get(True)), "no trigger (on:)"
    jobs = doc["jobs"]
    assert jobs, "no job"
    for name, job in jobs.items():
        assert job.get("runs-on"), f"job {name}: no runs-on"
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), f"job {name}: step {step}"


def check_gitlab(doc):
    stages = doc["stages"]
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
    assert jobs, "no job"
    for name, job in jobs.items():
        assert job["stage"] in stages, f"job {name}: stage {job['stage']} is not in stages"
        assert isinstance(job["script"], list), f"job {name}: script is not a list"


def check_k8s(doc):
    assert doc["kind"] == "Job", doc["kind"]
    pod = doc["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True, "runAsNonRoot"
    for c in pod["containers"]:
        assert c["securityContext"]["privileged"] is False, f"{c['name']} is privileged"


CHECKS = {
    "github-actions.yml": check_github,
    "gitlab-ci.yml": check_gitlab,
    "k8s-job.yaml": check_k8s,
}


def main(directory):
    commands = []
    for name, check in CHECKS.items():
        with open(f"{directory}/{name}", encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        check(doc)
        builds = 0
        for line in builder_lines(doc):
            args = argv(line)
            if args[1:2] == ["login"]:
                assert "--password-stdin" in args and "-p" not in args, f"{name}: {line}"
                assert "--password" not in args, f"{name}: {line}"
                continue
            if "build" in args:
                builds += 1
                commands.append({"file": name, "argv": args})
        assert builds, f"{name}: no builder build line"
    json.dump({"commands": commands}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
