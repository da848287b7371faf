#!/usr/bin/env python3
"""Which tested container row each CI example in examples/ci/ runs in.

    ci_examples.py SOURCE_DIR

Reads each example's container or pod settings, in the terms of
tests/integration/container_rows.txt (user, seccomp, apparmor, proc, caps,
nnp, idmap), and prints one line per example: "ok EXAMPLE ROW..." for the
rows with exactly those settings where a RUN must build, or "FAIL EXAMPLE:
why". Each example's KILN_ROOT must also lie outside its build context (a
store inside it is sent as context and lost with the checkout). Every example runs
the kiln image, so idmap is always "fcaps" (its newuidmap with file
capabilities and a range) and the default user is the image's USER.
"""
import os
import re
import shlex
import sys

import yaml

FIELDS = ("user", "seccomp", "apparmor", "proc", "caps", "nnp", "idmap")


def load_rows(src):
    rows = []
    with open(os.path.join(src, "tests/integration/container_rows.txt")) as f:
        for line in f:
            line = line.split("|")[0].strip()
            if not line or line.startswith("#"):
                continue
            v = line.split()
            rows.append({"id": v[0], "engine": v[1], **dict(zip(FIELDS, v[2:9])), "run": v[9]})
    return rows


def image_user(src):
    user = "0"
    with open(os.path.join(src, "scripts/kiln-image.Dockerfile")) as f:
        for line in f:
            m = re.match(r"\s*USER\s+(\S+)", line)
            if m:
                user = m.group(1)
    return user


def defaults(src):
    return {"user": image_user(src), "seccomp": "default", "apparmor": "default", "proc": "masked",
            "caps": "default", "nnp": "no", "idmap": "fcaps"}


def docker_options(s, options):
    """docker run flags, as GitHub's container.options passes them."""
    args = shlex.split(options or "")
    i = 0
    while i < len(args):
        a = args[i]
        val = None
        if "=" in a and a.startswith("--"):
            a, val = a.split("=", 1)
        elif a in ("--user", "-u", "--security-opt", "--cap-drop", "--cap-add") and i + 1 < len(args):
            i += 1
            val = args[i]
        if a in ("--user", "-u"):
            s["user"] = val
        elif a == "--security-opt":
            if val == "seccomp=unconfined":
                s["seccomp"] = "unconfined"
            elif val == "apparmor=unconfined":
                s["apparmor"] = "unconfined"
            elif val == "systempaths=unconfined":
                s["proc"] = "unmasked"
            elif val in ("no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"):
                s["nnp"] = "yes"
            else:
                raise ValueError("--security-opt " + str(val) + " is in no tested row")
        elif a == "--cap-drop" and val and val.lower() == "all":
            s["caps"] = "drop-all"
        elif a in ("--privileged", "--cap-add", "--cap-drop", "--userns", "--device"):
            raise ValueError(a + " is in no tested row")
        i += 1
    return s


def pod_security_context(s, sc):
    """A Kubernetes container securityContext."""
    sc = sc or {}
    for key in sc:
        if key not in ("runAsUser", "runAsNonRoot", "runAsGroup", "allowPrivilegeEscalation", "capabilities",
                       "seccompProfile", "appArmorProfile", "procMount"):
            raise ValueError("securityContext." + key + " is in no tested row")
    if "runAsUser" in sc:
        s["user"] = str(sc["runAsUser"])
    if sc.get("runAsNonRoot") and s["user"] == "0":
        raise ValueError("runAsNonRoot with user 0 would not start")
    if sc.get("allowPrivilegeEscalation") is False:
        s["nnp"] = "yes"
    caps = sc.get("capabilities") or {}
    if caps.get("add"):
        raise ValueError("capabilities.add is in no tested row")
    if [c.upper() for c in caps.get("drop") or []] == ["ALL"]:
        s["caps"] = "drop-all"
    elif caps.get("drop"):
        raise ValueError("capabilities.drop other than [ALL] is in no tested row")
    for key, field in (("seccompProfile", "seccomp"), ("appArmorProfile", "apparmor")):
        kind = (sc.get(key) or {}).get("type", "RuntimeDefault")
        if kind == "Unconfined":
            s[field] = "unconfined"
        elif kind != "RuntimeDefault":
            raise ValueError(key + " " + kind + " is in no tested row")
    if sc.get("procMount") == "Unmasked":
        s["proc"] = "unmasked"
    return s


CONTEXT_MARKS = ("$CI_PROJECT_DIR", "${CI_PROJECT_DIR}", "$GITHUB_WORKSPACE", "${{ github.workspace }}",
                 "$(workspaces.")


def check_store(name, env):
    root = (env or {}).get("KILN_ROOT")
    if root is None:
        raise ValueError(name + ": no KILN_ROOT (the kiln image's store volume is /var/lib/kiln)")
    if not root.startswith("/") or any(m in root for m in CONTEXT_MARKS):
        raise ValueError(name + ": KILN_ROOT " + root + " is inside the build context")


def settings(src):
    """(example, engine or None for a pod, settings) for every job or step."""
    out = []
    gh = yaml.safe_load(open(os.path.join(src, "examples/ci/github-actions.yml")))
    for name, job in gh["jobs"].items():
        c = job.get("container")
        if not c:
            raise ValueError("github-actions.yml: job " + name + " has no container: it runs on the runner, no tested row")
        if isinstance(c, str):
            c = {"image": c}
        check_store("github-actions.yml:" + name, {**(c.get("env") or {}), **(job.get("env") or {})})
        out.append(("github-actions.yml:" + name, "docker", docker_options(defaults(src), c.get("options"))))
    gl = yaml.safe_load(open(os.path.join(src, "examples/ci/gitlab-ci.yml")))
    for name, job in gl.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        check_store("gitlab-ci.yml:" + name, {**(gl.get("variables") or {}), **(job.get("variables") or {})})
        s = defaults(src)
        img = job.get("image")
        if isinstance(img, dict) and (img.get("docker") or {}).get("user") is not None:
            s["user"] = str(img["docker"]["user"])
        # The docker executor runs the job's container with Docker's defaults.
        out.append(("gitlab-ci.yml:" + name, "docker", s))
    task = yaml.safe_load(open(os.path.join(src, "examples/ci/tekton/task.yaml")))
    for step in task["spec"]["steps"]:
        check_store("tekton/task.yaml:" + step["name"], {e["name"]: e.get("value") for e in step.get("env") or []})
        out.append(("tekton/task.yaml:" + step["name"], None, pod_security_context(defaults(src), step.get("securityContext"))))
    return out


def main():
    src = sys.argv[1]
    rows = load_rows(src)
    try:
        examples = settings(src)
    except (ValueError, KeyError, OSError, yaml.YAMLError) as e:
        print("FAIL examples/ci: " + str(e))
        return
    for name, engine, s in examples:
        match = [r["id"] for r in rows
                 if all(r[f] == s[f] for f in FIELDS) and (engine is None or r["engine"] == engine)
                 and r["run"] == "same"]
        if match:
            print("ok " + name + " " + " ".join(match))
        else:
            print("FAIL " + name + ": settings " + " ".join(f + "=" + s[f] for f in FIELDS) + " are in no tested row where RUN builds")


main()
