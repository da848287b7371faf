#!/usr/bin/env python3
"""Writes the layer_fuzz seed corpus (corpus/layer/): small tars, plain and
compressed, with what layers hold (dirs, files, symlinks, hardlinks,
whiteouts, opaque markers, PAX xattrs, devices) and what hostile ones try
(.., absolute names, links pointing out, a file under a symlink). Run from
tests/fuzz/; the output is committed, so this only documents it."""
import bz2, gzip, io, lzma, os, subprocess, tarfile

OUT = "corpus/layer"


def tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            kind, name = e[0], e[1]
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            data = b""
            if kind == "f":
                data = e[2] if len(e) > 2 else b"hello\n"
                ti.size = len(data)
                ti.mode = 0o644
            elif kind == "d":
                ti.type, ti.mode = tarfile.DIRTYPE, e[2] if len(e) > 2 else 0o755
            elif kind == "s":
                ti.type, ti.linkname = tarfile.SYMTYPE, e[2]
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, e[2]
            elif kind == "c":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, e[2], e[3]
            elif kind == "x":  # file with PAX records (xattrs)
                ti.size, ti.pax_headers = 1, e[2]
                data = b"x"
            t.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


seeds = {
    "basic": [("d", "etc"), ("f", "etc/hosts"), ("s", "bin", "usr/bin"), ("d", "usr/bin"),
              ("f", "usr/bin/sh", b"#!"), ("h", "usr/bin/ash", "usr/bin/sh")],
    "whiteouts": [("d", "a"), ("f", "a/.wh.gone", b""), ("f", "a/.wh..wh..opq", b""),
                  ("c", "b", 0, 0), ("f", ".wh.top", b"")],
    "escape_dotdot": [("f", "../outside/evil"), ("f", "a/../../outside/evil2")],
    "escape_abs": [("f", "/abs-file"), ("d", "/"), ("f", "./x")],
    "escape_symlink": [("s", "link", "../outside"), ("f", "link/evil"),
                       ("s", "abs", "/dev/shm"), ("f", "abs/kiln-fuzz-evil")],
    "escape_hardlink": [("h", "hl", "../outside/x"), ("h", "self", "self"), ("h", "missing", "nope")],
    "replace": [("d", "x"), ("f", "x"), ("s", "x", "y"), ("d", "x/y", 0o500), ("f", "x/y/z")],
    "xattrs": [("x", "cap", {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
                             "SCHILY.xattr.user.overlay.opaque": "y", "path": "long/" + "n" * 200})],
    "devices": [("c", "dev/null", 1, 3), ("c", "dev/zero", 1, 5)],
}
os.makedirs(OUT, exist_ok=True)
for name, entries in seeds.items():
    raw = tar(entries)
    with open(f"{OUT}/{name}.tar", "wb") as f:
        f.write(raw)
base = tar(seeds["basic"])
with open(f"{OUT}/basic.tar.gz", "wb") as f:
    f.write(gzip.compress(base, mtime=0))
with open(f"{OUT}/basic-gnu.tar", "wb") as f:
    f.write(tar(seeds["basic"] + [("f", "g/" + "l" * 150)], tarfile.GNU_FORMAT))
with open(f"{OUT}/basic.tar.bz2", "wb") as f:
    f.write(bz2.compress(base))
with open(f"{OUT}/basic.tar.xz", "wb") as f:
    f.write(lzma.compress(base))
# Two gzip members (kiln writes layers that way) and one with trailing bytes.
with open(f"{OUT}/members.tar.gz", "wb") as f:
    f.write(gzip.compress(base[:512], mtime=0) + gzip.compress(base[512:], mtime=0))
with open(f"{OUT}/trailing.tar.gz", "wb") as f:
    f.write(gzip.compress(base, mtime=0) + b"garbage")
with open(f"{OUT}/basic.tar.zst", "wb") as f:
    f.write(subprocess.run(["zstd", "-q", "-c"], input=base, stdout=subprocess.PIPE, check=True).stdout)
