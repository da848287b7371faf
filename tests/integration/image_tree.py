#!/usr/bin/env python3
"""Flattens an image from an OCI layout and prints what a comparison needs.

    image_tree.py tree LAYOUT TAG     one line per path: path type mode uid gid content
    image_tree.py config LAYOUT TAG   the config fields docker and buildah agree on, as JSON

Layers are applied in order with OCI whiteouts (.wh.NAME, .wh..wh..opq).
Hardlinked paths are printed as files with a "link-group" of the paths that
share the content, so the comparison does not depend on which of them the
archive stored first. Mtimes are not compared (buildah and docker differ).
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(layout, digest):
    algo, hexd = digest.split(":", 1)
    with open(os.path.join(layout, "blobs", algo, hexd), "rb") as f:
        return f.read()


def manifest_for(layout, tag):
    index = json.load(open(os.path.join(layout, "index.json")))
    for m in index["manifests"]:
        if tag in ("", m.get("annotations", {}).get("org.opencontainers.image.ref.name")):
            doc = json.loads(blob(layout, m["digest"]))
            if "manifests" in doc:  # nested index
                doc = json.loads(blob(layout, doc["manifests"][0]["digest"]))
            return doc
    sys.exit(f"image_tree: no image tagged {tag!r} in {layout}")


def open_layer(data):
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import subprocess
        data = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")


def flatten(layout, tag):
    files = {}   # path -> dict
    for layer in manifest_for(layout, tag)["layers"]:
        with open_layer(blob(layout, layer["digest"])) as tar:
            for m in tar.getmembers():
                path = "/" + m.name.lstrip("./").rstrip("/") if m.name not in (".", "./") else "/"
                path = os.path.normpath(path)
                d, base = os.path.split(path)
                if base == ".wh..wh..opq":
                    for p in [p for p in files if p.startswith(d.rstrip("/") + "/")]:
                        del files[p]
                    continue
                if base.startswith(".wh."):
                    victim = os.path.join(d, base[4:])
                    for p in [p for p in files if p == victim or p.startswith(victim + "/")]:
                        del files[p]
                    continue
                if path in files and not (m.isdir() and files[path]["type"] == "dir"):
                    files.pop(path)
                    for p in [p for p in files if p.startswith(path + "/")]:
                        del files[p]
                entry = {"mode": m.mode & 0o7777, "uid": m.uid, "gid": m.gid}
                if m.isdir():
                    entry.update(type="dir", content="")
                elif m.issym():
                    entry.update(type="symlink", content=m.linkname)
                elif m.islnk():
                    target = os.path.normpath("/" + m.linkname.lstrip("./"))
                    src = files.get(target)
                    entry.update(type="file", content=src["content"] if src else "?", link=target)
                    entry["mode"], entry["uid"], entry["gid"] = (src["mode"], src["uid"], src["gid"]) if src else (entry["mode"], entry["uid"], entry["gid"])
                elif m.isfile():
                    entry.update(type="file", content=hashlib.sha256(tar.extractfile(m).read()).hexdigest()[:16])
                elif m.ischr() or m.isblk():
                    entry.update(type="chr" if m.ischr() else "blk", content=f"{m.devmajor}:{m.devminor}")
                elif m.isfifo():
                    entry.update(type="fifo", content="")
                files[path] = entry
    # hardlink groups
    groups = {}
    for p, e in files.items():
        if "link" in e:
            root = e["link"]
            groups.setdefault(root, {root}).add(p)
    for root, members in groups.items():
        label = ",".join(sorted(members))
        for p in members:
            if p in files:
                files[p]["group"] = label
    return files


def tree(layout, tag):
    files = flatten(layout, tag)
    for p in sorted(files):
        e = files[p]
        extra = f" links={e['group']}" if "group" in e else ""
        print(f"{p} {e['type']} {e['mode']:04o} {e['uid']} {e['gid']} {e['content']}{extra}")


CONFIG_FIELDS = ["Env", "Cmd", "Entrypoint", "User", "WorkingDir", "Labels", "ExposedPorts", "Volumes",
                 "StopSignal"]


def config(layout, tag):
    m = manifest_for(layout, tag)
    cfg = json.loads(blob(layout, m["config"]["digest"])).get("config") or {}
    out = {k: cfg.get(k) for k in CONFIG_FIELDS}
    labels = {k: v for k, v in (out["Labels"] or {}).items() if not k.startswith("io.buildah.")}
    out["Labels"] = labels or None
    for k in ("ExposedPorts", "Volumes"):
        out[k] = sorted(out[k]) if out[k] else None
    for k in list(out):
        if out[k] in ("", [], {}):
            out[k] = None
    print(json.dumps(out, sort_keys=True, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("tree", "config"):
        sys.exit(__doc__)
    {"tree": tree, "config": config}[sys.argv[1]](sys.argv[2], sys.argv[3])
