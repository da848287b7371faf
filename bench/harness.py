#!/usr/bin/env python3
"""kiln vs its peers, side by side, in one run (driven by bench/run).

Each scenario runs kiln and its peers alternately (A B C A B C ...) after a
warm-up and reports the median and min-max wall time per tool, the median of
the per-round ratios kiln/peer, and peak RSS (max RSS of the largest process,
from getrusage via /usr/bin/time; for BuildKit, the peak of its daemon,
dockerd, during the build). Build scenarios run kiln, Buildah and BuildKit
(Debian's dockerd on a private socket) and also report kiln against the faster
peer of each round. Ratios, not seconds: these 2-core machines are shared and
noisy. Quick mode (--quick or BENCH_QUICK=1): smaller inputs, each scenario
once, no warm-up. Exits non-zero only when a scenario could not run.
"""
import argparse
import datetime
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent
USER = "kiln-bench"


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=True, check=check, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
        self.runs = args.runs or (1 if self.quick else 3)
        self.warmup = 0 if self.quick else 1
        self.rows = []
        self.three_way = []  # build scenarios: kiln against Buildah and BuildKit
        self.dockerd = None  # the private dockerd's directory (socket, pid, data)
        self.docker = None   # the docker command line for it
        self.failures = []
        self.work = Path(tempfile.mkdtemp(prefix="kiln-bench."))
        os.chmod(self.work, 0o1777)  # the bench user writes timing files here
        self.kiln = self.work / "kiln"
        shutil.copy(args.kiln, self.kiln)
        os.chmod(self.kiln, 0o755)
        self.home = None
        self.registry = None
        self.reg_proc = None

    # --- set-up -----------------------------------------------------------
    def setup_user(self):
        if sh(f"id {USER}", check=False).returncode != 0:
            sh(f"useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 {USER}")
        for f in ("/etc/subuid", "/etc/subgid"):
            lines = [l for l in Path(f).read_text().splitlines() if not l.startswith(USER + ":")]
            lines.append(f"{USER}:400000:100000")
            Path(f).write_text("\n".join(lines) + "\n")
        self.home = Path(sh(f"getent passwd {USER}").stdout.split(":")[5])
        conf = self.home / ".config/containers"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "containers.conf").write_text(
            '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
        (conf / "storage.conf").write_text('[storage]\ndriver = "overlay"\n')
        sh(f"chown -R {USER}: {self.home}/.config")

    def start_registry(self):
        if self.reg_proc:
            self.reg_proc.terminate()
            self.reg_proc.wait()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        d = Path(tempfile.mkdtemp(prefix="reg.", dir=self.work))
        (d / "config.yml").write_text(
            f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {d}/data}}}}\n"
            f"http: {{addr: 127.0.0.1:{port}}}\n")
        self.reg_proc = subprocess.Popen(["docker-registry", "serve", str(d / "config.yml")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if sh(f"curl -sf http://127.0.0.1:{port}/v2/", check=False).returncode == 0:
                break
            time.sleep(0.1)
        self.registry = f"127.0.0.1:{port}"
        return self.registry

    def start_dockerd(self):
        """Debian's dockerd on a private socket (scripts/start-dockerd.sh, as
        the tests start it); its BuildKit builds with --network=host."""
        d = Path(tempfile.mkdtemp(prefix="kbd.", dir="/tmp"))  # a socket path has 108 bytes
        r = sh(f"bash {SRC}/scripts/start-dockerd.sh {d}", check=False)
        if r.returncode != 0:
            self.failures.append(f"BuildKit: dockerd did not start: {r.stdout[-500:]}")
            print(f"   BuildKit unavailable: {r.stdout[-500:]}", flush=True)
            shutil.rmtree(d, ignore_errors=True)
            return
        self.dockerd = d
        self.docker = f"env DOCKER_HOST=unix://{d}/sock DOCKER_BUILDKIT=1 /usr/bin/docker"

    def stop_dockerd(self):
        if not self.dockerd:
            return
        pid = self.dockerd_pid()
        sh(f"{self.docker} system prune -af >/dev/null 2>&1", check=False)
        if pid:
            sh(f"kill {pid}", check=False)
            for _ in range(150):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.2)
        sh(f"umount -R {self.dockerd}/root/overlay2 2>/dev/null; true", check=False)
        shutil.rmtree(self.dockerd, ignore_errors=True)
        self.dockerd = None

    def dockerd_pid(self):
        try:
            return int((self.dockerd / "pid").read_text().strip())
        except (OSError, ValueError, TypeError):
            return None

    def docker_load(self, ref):
        """The image `ref` (in the local registry) into dockerd, through a
        docker-archive skopeo writes: nothing comes from the internet, and
        BuildKit finds it locally."""
        if not self.dockerd:
            return
        tar = self.work / "load.tar"
        tar.unlink(missing_ok=True)
        sh(f"skopeo copy -q --src-tls-verify=false docker://{ref} docker-archive:{tar}:{ref}")
        sh(f"{self.docker} load -q -i {tar}")
        tar.unlink()

    def buildkit(self, args, tag):
        """A BuildKit build as a peer row (root: dockerd runs as root)."""
        return ("BuildKit (docker build)",
                f"{self.docker} build --network=host -q {args} -t {tag} . >/dev/null", False)

    def clear_buildkit(self, tag):
        sh(f"{self.docker} rmi -f {tag} >/dev/null 2>&1; {self.docker} builder prune -af >/dev/null 2>&1; true",
           check=False)

    def push_busybox(self):
        layout = self.work / "busybox"
        if not layout.exists():
            bundle = self.work / "bb-bundle"
            sh(f"umoci init --layout {layout} && umoci new --image {layout}:latest && "
               f"umoci unpack --image {layout}:latest {bundle} && "
               f"bash {SRC}/scripts/make-busybox-rootfs.sh {bundle}/rootfs && "
               f"umoci repack --image {layout}:latest {bundle} && "
               f"umoci config --image {layout}:latest --config.cmd sh "
               f"--config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin && umoci gc --layout {layout}")
            shutil.rmtree(bundle)
            sh(f"chmod -R a+rX {layout}")
        sh(f"skopeo copy -q --dest-tls-verify=false oci:{layout}:latest docker://{self.registry}/busybox:latest")

    def make_context(self, name, files, dockerfile):
        """Deterministic context: `files` files in 100 dirs, ~15 KB each, half
        compressible text and half random bytes (seeded)."""
        ctx = self.work / name
        if ctx.exists():
            shutil.rmtree(ctx)
        rng = random.Random(20261123)
        words = [b"kiln", b"layer", b"overlay", b"digest", b"namespace", b"sandbox", b"build"]
        for i in range(files):
            d = ctx / "src" / f"d{i % 100:03d}"
            d.mkdir(parents=True, exist_ok=True)
            size = rng.randint(5_000, 25_000)
            if i % 2:
                data = rng.randbytes(size)
            else:
                data = b" ".join(rng.choice(words) for _ in range(size // 6))[:size]
            (d / f"f{i:05d}.dat").write_bytes(data)
        (ctx / "Dockerfile").write_text(dockerfile.replace("REG", self.registry))
        sh(f"chmod -R a+rX {ctx}")
        return ctx

    # --- measuring --------------------------------------------------------
    def timed(self, cmd, as_user=True, cwd=None):
        out = self.work / "time.out"
        wall = self.work / "wall.out"
        env = (f"env -i PATH=/usr/local/bin:/usr/bin:/bin HOME={self.home} USER={USER} "
               f"KILN_ROOT={self.home}/kiln-root XDG_RUNTIME_DIR=/tmp/xdg-{USER} ")
        # GNU time's %e has 10 ms steps, as much as kiln lint's whole run:
        # the wall time comes from bash's EPOCHREALTIME (microseconds) around
        # the command, and /usr/bin/time gives the peak RSS.
        timed = f"s=$EPOCHREALTIME; {cmd}; rc=$?; e=$EPOCHREALTIME; echo $s $e > {wall}; exit $rc"
        wrapped = f"/usr/bin/time -f '%e %M' -o {out} bash -c {sh_quote(timed)}"
        full = f"runuser -u {USER} -- {env} sh -c {sh_quote(wrapped)}" if as_user else wrapped
        # A BuildKit build's memory is its daemon's: dockerd's peak RSS is
        # reset before the build (clear_refs 5) and read after it.
        daemon = self.dockerd_pid() if (self.docker and self.docker in cmd) else None
        if daemon:
            Path(f"/proc/{daemon}/clear_refs").write_text("5")
        r = sh(full, check=False, cwd=cwd or self.work)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd}\n{r.stdout[-2000:]}")
        rss = int(out.read_text().split()[-1])
        if daemon:
            hwm = next(l for l in Path(f"/proc/{daemon}/status").read_text().splitlines() if l.startswith("VmHWM:"))
            rss = max(rss, int(hwm.split()[1]))
        start, end = (float(x) for x in wall.read_text().split())
        return end - start, rss // 1024

    def compare(self, scenario, goal, tools, prep=None, note="", work=None, floors=None, cwd=None):
        """tools: list of (name, command, as_user). First is kiln. `work` maps a
        tool to how many units it processed when the tools do different amounts
        (then the ratio compares time per unit). `floors` maps a reference
        tool (one that does only part of the job) to the peer it is divided
        by: its ratio is the best any tool built on that part could reach.
        With two or more peers, kiln is also judged against the faster peer
        of each round (self.three_way). Returns the results by tool."""
        print(f"== {scenario}", flush=True)
        results = {name: [] for name, _, _ in tools}
        try:
            for i in range(self.runs + self.warmup):
                for name, cmd, as_user in tools:
                    if prep:
                        prep(name)
                    t = self.timed(cmd, as_user, cwd=cwd)
                    if i >= self.warmup:  # the first round is the warm-up
                        results[name].append(t)
        except Exception as e:  # a scenario that cannot run is reported, not hidden
            self.failures.append(f"{scenario}: {e}")
            print(f"   FAILED: {e}", flush=True)
            return
        floors = floors or {}
        for name, _, _ in tools:
            times = [t for t, _ in results[name]]
            rss = max(r for _, r in results[name])
            ratio = ""
            subject, peer = (name, floors[name]) if name in floors else (tools[0][0], name)
            if subject != peer:
                wk = (work or {}).get(subject, 1)
                wp = (work or {}).get(peer, 1)
                r = statistics.median((k[0] / wk) / max(p[0] / wp, 1e-9) for k, p in zip(results[subject], results[peer]))
                ratio = f"{r:.3f}" if r >= 0.01 else f"{r:.2g}"
            self.rows.append((scenario, name, statistics.median(times), min(times), max(times), rss,
                              ratio, goal if ratio else "", note))
            print(f"   {name:28s} median {statistics.median(times):7.3f}s  [{min(times):.3f}-{max(times):.3f}]"
                  f"  rss {rss} MB  {('ratio ' + ratio) if ratio else ''}", flush=True)
        peers = [name for name, _, _ in tools[1:] if name not in floors]
        if any(p.startswith("BuildKit") for p in peers):
            kiln = results[tools[0][0]]
            vs_faster = statistics.median(k[0] / max(min(results[p][j][0] for p in peers), 1e-9)
                                          for j, k in enumerate(kiln))
            med = {name: statistics.median(t for t, _ in results[name]) for name, _, _ in tools}
            rss = {name: max(r for _, r in results[name]) for name, _, _ in tools}
            smaller = min(rss[p] for p in peers)
            self.three_way.append((scenario, [med[n] for n, _, _ in tools], vs_faster, goal,
                                   [rss[n] for n, _, _ in tools], rss[tools[0][0]] / max(smaller, 1)))
            print(f"   kiln / faster peer: {vs_faster:.3f} (goal {goal}); RSS kiln / smaller peer: "
                  f"{rss[tools[0][0]] / max(smaller, 1):.2f}", flush=True)
        return results

    # --- scenarios --------------------------------------------------------
    def clear_stores(self, name=None):
        if name and name.startswith("BuildKit"):
            self.clear_buildkit("bench:latest")
            return
        sh(f"runuser -u {USER} -- sh -c 'rm -rf $HOME/kiln-root; buildah rm -a >/dev/null 2>&1; "
           f"buildah rmi -a -f >/dev/null 2>&1; true'", check=False)

    def run_all(self):
        only = set(self.args.only.split(",")) if self.args.only else None
        want = lambda s: only is None or s in only
        files = 2000 if self.quick else 20000
        k, reg = self.kiln, self.start_registry()
        self.push_busybox()
        builds = {"cold", "intermediate", "noop", "onefile", "runs", "apt", "bigbase"}
        if only is None or only & builds:
            self.start_dockerd()
            self.docker_load(f"{reg}/busybox:latest")
        multi = ("FROM REG/busybox AS build\nWORKDIR /src\nCOPY . .\n"
                 "RUN find . -type f | wc -l > /count\n"
                 "FROM REG/busybox\nCOPY --from=build /count /out/count\nCOPY src /app/src\nUSER 1000\n")
        ctx = self.make_context("ctx", files, multi)
        kb = f"{k} build --lint=off --progress=plain -t bench:latest {ctx}"
        bb = f"buildah build --layers --tls-verify=false -q -t bench:latest {ctx}"
        peers = lambda kbx, bbx, bkx: [("kiln build", kbx, True), ("buildah build --layers", bbx, True)] + (
            [bkx] if self.docker else [])
        bk = self.buildkit("", "bench:latest")
        if want("cold"):
            self.compare(f"1. cold multi-stage build, {files} files", "<= 0.5", peers(kb, bb, bk),
                         prep=self.clear_stores, cwd=ctx)
        if want("intermediate"):
            # The shape: the large COPY lands only in a stage that is
            # not exported; the exported stage takes one small file from it.
            inter = ("FROM REG/busybox AS build\nCOPY src /src\nRUN find /src -type f | wc -l > /count\n"
                     "FROM REG/busybox\nCOPY --from=build /count /out/count\nUSER 1000\n")
            ictx = self.work / "ictx"
            ictx.mkdir(exist_ok=True)
            sh(f"rm -rf {ictx}/src && cp -al {ctx}/src {ictx}/src")  # hard links: the same files, no copy
            (ictx / "Dockerfile").write_text(inter.replace("REG", self.registry))
            sh(f"chmod -R a+rX {ictx}")
            self.compare(f"1b. cold multi-stage build, {files} files only in an intermediate stage", "<= 0.5",
                         peers(f"{k} build --lint=off --progress=plain -t bench:latest {ictx}",
                               f"buildah build --layers --tls-verify=false -q -t bench:latest {ictx}", bk),
                         prep=self.clear_stores, cwd=ictx)
        if want("noop") or want("onefile"):
            self.clear_stores()
            self.timed(kb)
            self.timed(bb)
            if self.docker:
                self.clear_buildkit("bench:latest")
                self.timed(bk[1], False, cwd=ctx)
        if want("noop"):
            self.compare("2. no-op rebuild", "<= 0.1", peers(kb, bb, bk), cwd=ctx)
        if want("onefile"):
            victim = ctx / "src/d007/f00007.dat"
            counter = [0]

            def touch_one(_name):
                counter[0] += 1
                victim.write_bytes(victim.read_bytes()[:4000] + str(counter[0]).encode())
            self.compare("3. rebuild after one-file change", "<= 0.25", peers(kb, bb, bk), prep=touch_one, cwd=ctx)
        if want("runs"):
            rctx = self.work / "runs"
            rctx.mkdir(exist_ok=True)
            (rctx / "Dockerfile").write_text(f"FROM {reg}/busybox\n" + "RUN true\n" * 10 + "USER 1000\n")
            sh(f"chmod -R a+rX {rctx}")
            self.compare("4. 10 x RUN true (no cache)", "<= 0.15",
                         peers(f"{k} build --lint=off --no-cache --progress=plain -t runs {rctx}",
                               f"buildah build --layers --no-cache --tls-verify=false -q -t runs {rctx}",
                               self.buildkit("--no-cache", "runs")), cwd=rctx)
        if want("bigbase"):
            self.big_base_scenario()
        if want("push"):
            self.clear_stores()
            self.timed(kb)
            layout = self.work / "bench.oci"
            self.timed(f"{k} build --lint=off -q -t bench:latest --output type=oci,dest={layout} {ctx}")
            sh(f"chmod -R a+rX {layout}", check=False)
            state = {}

            def fresh_registry(_name):
                state["reg"] = self.start_registry()
            kp = lambda: f"{k} push bench:latest {state['reg']}/bench:latest"
            sp = lambda: (f"skopeo copy -q --dest-tls-verify=false oci:{layout}:latest "
                          f"docker://{state['reg']}/bench:latest")
            self.compare_dynamic("5a. push to a local registry, cold", "< 1", kp, sp, fresh_registry)
            fresh_registry(None)
            self.timed(kp())
            self.timed(sp())
            self.compare_dynamic("5b. re-push, all blobs present", "< 0.1", kp, sp, None)
        if want("layer"):
            tree = ctx / "src"
            out = self.work / "peer-layer.out"  # on the filesystem of kiln's store
            self.compare(f"6a. layer from {files} files, gzip", ">= 0.9 throughput (ratio <= 1.11)",
                         [("kiln layer (gzip)", f"{k} layer create --compression gzip {tree}", True),
                          ("tar | gzip -6", f"sh -c 'tar -C {tree} -cf - . | gzip -6 > /dev/null'", True),
                          ("tar | gzip -6 > file, fsync", f"sh -c 'tar -C {tree} -cf - . | gzip -6 > {out} && sync {out}'",
                           True)],
                         note="kiln writes the blob into its store and fsyncs it; the peer to /dev/null does neither")
            self.compare(f"6b. layer from {files} files, zstd", ">= 0.9 throughput (ratio <= 1.11)",
                         [("kiln layer (zstd)", f"{k} layer create --compression zstd {tree}", True),
                          ("tar | zstd -T0", f"sh -c 'tar -C {tree} -cf - . | zstd -q -T0 -3 > /dev/null'", True),
                          ("tar | zstd -T0 > file, fsync",
                           f"sh -c 'tar -C {tree} -cf - . | zstd -q -T0 -3 > {out} && sync {out}'", True)],
                         note="kiln writes the blob into its store and fsyncs it; the peer to /dev/null does neither")
        corpus = sorted(str(p) for p in (SRC / "tests/data/corpus/realworld").rglob("*.Dockerfile"))
        listing = self.work / "corpus.txt"
        listing.write_text("\n".join(corpus) + "\n")
        if want("lint"):
            npm = SRC / "bench/work/npm/node_modules/.bin"
            tools = [("kiln lint", f"sh -c 'xargs {k} lint --format json --failure-threshold none < {listing} > /dev/null 2>&1 || true'", True)]
            if (npm / "dockerfilelint").exists():
                tools.append(("dockerfilelint (npm)",
                              f"sh -c 'xargs {npm}/dockerfilelint -o json < {listing} > /dev/null || true'", True))
            sample = self.work / "corpus-sample.txt"
            sample.write_text("\n".join(corpus[::16]) + "\n")  # one process per file: a sample
            n_sample = len(corpus[::16])
            if (npm / "dockerfile_lint").exists():
                tools.append((f"dockerfile_lint (npm), {n_sample} files",
                              f"sh -c 'for f in $(cat {sample}); do {npm}/dockerfile_lint -j -f $f; done > /dev/null 2>&1 || true'", True))
            # Floors: reading the files and nothing else, in one process, run
            # the same way; their ratio to dockerfilelint is the best any
            # linter (or kiln, with its libraries) could reach here.
            floors = {}
            if (npm / "dockerfilelint").exists():
                for fname, exe in self.read_floors():
                    tools.append((fname, f"sh -c 'xargs {exe} < {listing} > /dev/null 2>&1 || true'", True))
                    floors[fname] = "dockerfilelint (npm)"
            work = {"kiln lint": len(corpus), f"dockerfile_lint (npm), {n_sample} files": n_sample,
                    "dockerfilelint (npm)": len(corpus), **{f: len(corpus) for f in floors}}
            self.compare(f"7. lint {len(corpus)} real-world Dockerfiles", "<= 0.02 (50x faster)", tools,
                         work=work, note="ratio per file; a floor's ratio is floor/dockerfilelint", floors=floors)
        if want("parse"):
            self.compare(f"8. parse {len(corpus)} real-world Dockerfiles", f"> 20,000 files/s",
                         [("kiln parse", f"sh -c 'xargs {k} parse --dump < {listing} > /dev/null 2>&1 || true'", True)],
                         note=f"{len(corpus)} files, one process; the corpus' one non-Dockerfile (a Nickel template) is rejected")
        if want("apt"):
            self.apt_scenario()
        if want("pushmem"):
            self.push_memory_scenario()

    def read_floors(self):
        """bench/read_files.cc built twice: plain, and linked against every
        shared library kiln loads (what starting kiln costs before main)."""
        plain, with_libs = self.work / "read_files", self.work / "read_files_kiln_libs"
        needed = [line.split("[")[1].rstrip("]") for line in
                  sh(f"readelf -d {self.kiln}").stdout.splitlines() if "(NEEDED)" in line]
        base = f"c++ -O2 -std=c++20 -pthread {SRC}/bench/read_files.cc"
        sh(f"{base} -o {plain}")
        sh(f"{base} -o {with_libs} -Wl,--no-as-needed " + " ".join(f"-l:{lib}" for lib in needed))
        sh(f"chmod a+rx {plain} {with_libs}")
        return [("floor: read the files only", plain),
                ("floor: read only, kiln's libraries loaded", with_libs)]

    def push_memory_scenario(self):
        """Peak memory of kiln as one layer grows (issue #7: it stays flat):
        a single incompressible file, built and pushed cold, beside skopeo
        pushing the same image from an OCI layout."""
        k = self.kiln
        for mb in ([16, 64] if self.quick else [32, 128, 512]):
            scenario = f"5c. one {mb} MiB layer: build, then cold push"
            print(f"== {scenario}", flush=True)
            try:
                ctx = self.work / f"big{mb}"
                ctx.mkdir(exist_ok=True)
                rng = random.Random(mb)  # deterministic, incompressible
                with open(ctx / "big", "wb") as f:
                    for _ in range(mb):
                        f.write(rng.randbytes(1 << 20))
                (ctx / "Dockerfile").write_text("FROM scratch\nCOPY big /big\nUSER 1000\n")
                layout = self.work / f"big{mb}.oci"
                sh(f"chmod -R a+rX {ctx}; rm -rf {layout}")
                self.clear_stores()
                tb, rb = self.timed(f"{k} build --lint=off -q -t big:{mb} --output type=oci,dest={layout} {ctx}")
                sh(f"chmod -R a+rX {layout}", check=False)
                reg = self.start_registry()
                tp, rp = self.timed(f"{k} push big:{mb} {reg}/kiln:{mb}")
                ts, rs = self.timed(f"skopeo copy -q --dest-tls-verify=false oci:{layout}:{mb} docker://{reg}/skopeo:{mb}")
            except Exception as e:
                self.failures.append(f"{scenario}: {e}")
                print(f"   FAILED: {e}", flush=True)
                continue
            self.rows.append((scenario, "kiln build", tb, tb, tb, rb, "", "", "one run; RSS is the point"))
            self.rows.append((scenario, "kiln push", tp, tp, tp, rp, "", "", ""))
            self.rows.append((scenario, "skopeo copy", ts, ts, ts, rs, f"{tp / max(ts, 1e-6):.2f}", "flat RSS as size grows", ""))
            print(f"   build {tb:.2f}s {rb} MB; push {tp:.2f}s {rp} MB; skopeo {ts:.2f}s {rs} MB", flush=True)

    def compare_dynamic(self, scenario, goal, kiln_cmd, peer_cmd, prep):
        """Like compare(), for commands that depend on state set by prep."""
        print(f"== {scenario}", flush=True)
        results = {"kiln push": [], "skopeo copy": []}
        try:
            for i in range(self.runs + self.warmup):
                for name, make in (("kiln push", kiln_cmd), ("skopeo copy", peer_cmd)):
                    if prep:
                        prep(name)
                    t = self.timed(make())
                    if i >= self.warmup:
                        results[name].append(t)
        except Exception as e:
            self.failures.append(f"{scenario}: {e}")
            print(f"   FAILED: {e}", flush=True)
            return
        k, s = results["kiln push"], results["skopeo copy"]
        ratio = f"{statistics.median(a[0] / max(b[0], 1e-6) for a, b in zip(k, s)):.2f}"
        for name, res, r in (("kiln push", k, ""), ("skopeo copy", s, ratio)):
            times = [t for t, _ in res]
            self.rows.append((scenario, name, statistics.median(times), min(times), max(times),
                              max(m for _, m in res), r, goal if r else "", ""))
            print(f"   {name:28s} median {statistics.median(times):7.3f}s rss {max(m for _, m in res)} MB {r}", flush=True)

    def apt_scenario(self):
        mirror_ok = sh("timeout 20 apt-get -qq update", check=False).returncode == 0
        if not mirror_ok:
            self.rows.append(("9. apt-get install build", "-", 0, 0, 0, 0, "", "", "skipped: mirror unreachable"))
            return
        rootfs = SRC / "bench/work/debian-rootfs"
        layout = self.work / "debian"
        if not (rootfs / "bin").exists():
            sh(f"debootstrap --variant=minbase bookworm {rootfs} >/dev/null 2>&1")
        bundle = self.work / "deb-bundle"
        sh(f"umoci init --layout {layout} && umoci new --image {layout}:latest && "
           f"umoci unpack --image {layout}:latest {bundle} && cp -a {rootfs}/. {bundle}/rootfs/ && "
           f"umoci repack --image {layout}:latest {bundle} && umoci config --image {layout}:latest "
           f"--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin && "
           f"skopeo copy -q --dest-tls-verify=false oci:{layout}:latest docker://{self.registry}/debian:bookworm")
        shutil.rmtree(bundle, ignore_errors=True)
        self.docker_load(f"{self.registry}/debian:bookworm")
        actx = self.work / "apt"
        actx.mkdir(exist_ok=True)
        (actx / "Dockerfile").write_text(
            f"FROM {self.registry}/debian:bookworm\nRUN apt-get update && apt-get install -y "
            "--no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*\nUSER 1000\n")
        sh(f"chmod -R a+rX {actx}")
        bk = [self.buildkit("", "apt")] if self.docker else []

        def clear(name):
            if name.startswith("BuildKit"):
                self.clear_buildkit("apt")
            else:
                self.clear_stores(name)
        self.compare("9. apt-get install build (Debian base)", "<= 0.8",
                     [("kiln build", f"{self.kiln} build --lint=off -q -t apt {actx}", True),
                      ("buildah build", f"buildah build --layers --tls-verify=false -q -t apt {actx}", True)] + bk,
                     prep=clear, cwd=actx, note="kiln and Buildah pull the base from the local registry; "
                     "dockerd has it loaded")

    def big_base_scenario(self):
        """A RUN touching one file, on a base of 20k files and of 200k: what a
        step costs must not grow with the base (kiln: within 10%). The bases
        are pulled before and kept; each build runs without the step cache."""
        small, big = (5000, 50000) if self.quick else (20000, 200000)
        reg, k = self.registry, self.kiln
        times = {}
        for n in (small, big):
            name = f"base{n // 1000}k"
            bctx = self.work / f"{name}-ctx"
            if not bctx.exists():
                for i in range(n):  # small files, 1000 a directory
                    d = bctx / "data" / f"d{i // 1000:03d}"
                    if i % 1000 == 0:
                        d.mkdir(parents=True, exist_ok=True)
                    (d / f"f{i:06d}").write_bytes(b"kiln bench base file %d\n" % i)
                (bctx / "Dockerfile").write_text(f"FROM {reg}/busybox\nCOPY data /data\n")
                sh(f"chmod -R a+rX {bctx}")
            self.timed(f"{k} build --lint=off -q -t {name} {bctx} && {k} push {name} {reg}/{name}:latest")
            self.docker_load(f"{reg}/{name}:latest")
            rctx = self.work / f"{name}-run"
            rctx.mkdir(exist_ok=True)
            (rctx / "Dockerfile").write_text(f"FROM {reg}/{name}\nRUN echo changed > /data/d000/f000000\nUSER 1000\n")
            sh(f"chmod -R a+rX {rctx}")
            tools = [("kiln build", f"{k} build --lint=off --no-cache -q -t {name}-run {rctx}", True),
                     ("buildah build", f"buildah build --layers --no-cache --tls-verify=false -q -t {name}-run {rctx}", True)]
            if self.docker:
                tools.append(self.buildkit("--no-cache", f"{name}-run"))
            times[n] = self.compare(f"10. RUN touching one file on a {n // 1000}k-file base (no cache)",
                                    "<= 0.5", tools, cwd=rctx)
        if times.get(small) and times.get(big):
            for tool in times[small]:
                a = statistics.median(t for t, _ in times[small][tool])
                b = statistics.median(t for t, _ in times[big][tool])
                self.rows.append((f"10. {big // 1000}k-file base against {small // 1000}k", tool, b, b, b, 0,
                                  f"{b / max(a, 1e-9):.3f}", "kiln <= 1.10", "ratio: time on the big base / small base"))
                print(f"   {tool}: {big // 1000}k base / {small // 1000}k base = {b / max(a, 1e-9):.3f}", flush=True)

    # --- report -----------------------------------------------------------
    def report(self):
        def ver(cmd):
            r = sh(cmd, check=False)
            return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "n/a"
        cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                    if l.startswith("model name")), "?")
        lines = [
            "# Benchmark results", "",
            f"Generated by `bench/run{' --quick' if self.quick else ''}` on "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.", "",
            f"- machine: {os.cpu_count()} cores, {cpu}, kernel {platform.release()}",
            f"- kiln: {ver(f'{self.kiln} --version')}",
            f"- buildah: {ver('buildah --version')}; skopeo: {ver('skopeo --version')}; "
            f"docker-registry: {ver('docker-registry --version')}",
            f"- BuildKit: {ver(self.docker + ' version -f {{.Server.Version}}') if self.docker else 'not run'} "
            "(Debian's dockerd, private socket, overlay2; `DOCKER_BUILDKIT=1 docker build --network=host`; cold runs "
            "after `docker builder prune -af` and `docker rmi`)",
            f"- runs per tool: {self.runs} after {self.warmup} warm-up, alternating kiln and peers; "
            "times are wall seconds, RSS is the peak of the largest process", "",
        ]
        if self.three_way:
            lines += [
                "## Build scenarios: kiln, Buildah, BuildKit", "",
                "Median wall seconds; \"kiln / faster\" is the median over rounds of kiln's time over the faster "
                "peer's in that round. RSS: peak MB (BuildKit: its daemon's).", "",
                "| scenario | kiln s | Buildah s | BuildKit s | kiln / faster peer | goal | RSS kiln / Buildah / BuildKit MB "
                "| RSS kiln / smaller peer |",
                "|---|---|---|---|---|---|---|---|"]
            for sc, meds, vs, goal, rss, rss_ratio in self.three_way:
                m = [f"{x:.3f}" for x in meds] + [""] * (3 - len(meds))
                lines.append(f"| {sc} | {m[0]} | {m[1]} | {m[2]} | {vs:.3f} | {goal} | "
                             f"{' / '.join(str(r) for r in rss)} | {rss_ratio:.2f} |")
            lines += ["", "## Every tool, every scenario", ""]
        lines += [
            "| scenario | tool | median s | min–max s | peak RSS MB | kiln/peer (median of pairs) | goal | note |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for sc, tool, med, lo, hi, rss, ratio, goal, note in self.rows:
            tool = tool.replace("|", "\\|")  # "tar | gzip" inside a table cell
            lines.append(f"| {sc} | {tool} | {med:.3f} | {lo:.3f}–{hi:.3f} | {rss} | {ratio} | {goal} | {note} |")
        if self.failures:
            lines += ["", "## Scenarios that could not run", ""] + [f"- {f.splitlines()[0]}" for f in self.failures]
        text = "\n".join(lines) + "\n"
        # Earlier sessions' notes follow the marker and are kept.
        results, marker = SRC / "bench/RESULTS.md", "<!-- history: kept by bench/run -->"
        old = results.read_text() if results.exists() else ""
        history = old[old.index(marker):] if marker in old else marker + "\n"
        results.write_text(text + "\n" + history)
        print(text)


def sh_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--only", help="comma-separated: cold,intermediate,noop,onefile,runs,bigbase,push,layer,lint,"
                                   "parse,apt,pushmem")
    args = ap.parse_args()
    b = Bench(args)
    try:
        b.setup_user()
        b.run_all()
        b.report()
    finally:
        b.stop_dockerd()
        if b.reg_proc:
            b.reg_proc.terminate()
        shutil.rmtree(b.work, ignore_errors=True)
    sys.exit(1 if b.failures else 0)


if __name__ == "__main__":
    main()
