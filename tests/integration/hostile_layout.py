#!/usr/bin/env python3
"""Makes a hostile copy of a one-image OCI layout, for integrity_test.sh.

hostile_layout.py SRC DST MODE
  forge     the first layer replaced by a different tar (a file /POISONED), the
            config untouched: its diff_id still claims the original layer
  crc       the first layer's gzip CRC-32 flipped (the deflate data intact)
  trailing  bytes appended after the first layer's last gzip member
The manifest (and index) are rewritten so every blob digest is right: only a
check of the uncompressed content against the diff_id, or of the gzip
trailer, can tell.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile


def blob_path(layout, digest):
    alg, hexd = digest.split(":")
    return os.path.join(layout, "blobs", alg, hexd)


def put_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(layout, digest), "wb") as f:
        f.write(data)
    return digest


def poisoned_layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in (("POISONED", b"poisoned by a forged image\n"), ("etc/motd", b"poisoned\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mtime = 1000
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(buf.getvalue(), mtime=0)


def main():
    src, dst, mode = sys.argv[1:4]
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    index = json.load(open(os.path.join(dst, "index.json")))
    desc = index["manifests"][0]
    manifest = json.load(open(blob_path(dst, desc["digest"])))
    layer = manifest["layers"][0]
    data = open(blob_path(dst, layer["digest"]), "rb").read()
    if mode == "forge":
        data = poisoned_layer()
    elif mode == "crc":
        data = bytearray(data)
        data[-8] ^= 0x01
        data = bytes(data)
    elif mode == "trailing":
        data += b"trailing bytes no diff_id covers"
    else:
        sys.exit("unknown mode " + mode)
    layer["digest"] = put_blob(dst, data)
    layer["size"] = len(data)
    body = json.dumps(manifest).encode()
    desc["digest"] = put_blob(dst, body)
    desc["size"] = len(body)
    with open(os.path.join(dst, "index.json"), "w") as f:
        json.dump(index, f)
    for root, dirs, files in os.walk(dst):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)


if __name__ == "__main__":
    main()
