// The rule table. Wording is ours; hadolint codes are cited for reference.
#include "frontend/lint/rule.h"

#include <algorithm>

namespace kiln::frontend::lint {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "info";
  }
  return "info";
}

std::optional<Severity> ParseSeverity(std::string_view s) {
  if (s == "error") return Severity::kError;
  if (s == "warning") return Severity::kWarning;
  if (s == "info" || s == "style") return Severity::kInfo;
  return std::nullopt;
}

namespace {

constexpr Severity E = Severity::kError, W = Severity::kWarning, I = Severity::kInfo;
#define BASE "FROM alpine:3.20\n"
#define DEB "FROM debian:12\n"

std::vector<Rule> MakeRules() {
  return {
      // ---- security gate ----
      {"KL001", "final-stage-runs-as-root", "The final stage must switch to a non-root user", E,
       "A container that runs as root turns any bug in the application into root in the container, one kernel bug "
       "away from root on the host. Earlier stages may run as root; the image you ship must not. A USER that maps "
       "to uid 0 in the base image's /etc/passwd counts as root when the build gate can read it.",
       "End the final stage with `USER <name or uid>` of an unprivileged account (distroless and scratch images "
       "use `USER 65532`).", "DL3002", BASE "RUN adduser -D app\n", BASE "RUN adduser -D app\nUSER app\n", ""},
      {"KL002", "secret-in-arg-env", "No credentials in ARG or ENV values", E,
       "ARG and ENV values are stored in the image config and history, readable by anyone who can pull the image. "
       "Names such as *PASSWORD*, *SECRET*, *TOKEN*, *_KEY, *APIKEY*, AWS_SECRET_* with a literal value are "
       "reported; an ARG without default or a value that only references another variable (`${OTHER}`) is "
       "accepted because the literal is not in the Dockerfile. `RUN NAME=value cmd` and `export NAME=value` "
       "are checked too.",
       "Use `RUN --mount=type=secret,id=name[,env=NAME]` and pass the value with `kiln build --secret`.", "DL3064",
       BASE "ENV DB_PASSWORD=hunter2\n", BASE "ARG NPM_TOKEN\nENV DB_PASSWORD_FILE=/run/secrets/db\n", ""},
      {"KL003", "secret-literal", "No secrets in known token formats", E,
       "Private key blocks (a BEGIN ... PRIVATE KEY header with a key body), AWS access key ids (AKIA...) and "
       "secret access keys, GitHub (ghp_, github_pat_), GitLab (glpat-), Slack (xox?-, webhooks), Google API "
       "(AIza...) and Stripe live (sk_live_) keys, JSON web tokens and URLs with an embedded password are "
       "recognised anywhere in an instruction, its heredocs or an ARG default: the same format table "
       "(oci/supply/secret_rules/formats.h) that `kiln scan` applies to image layers. AWS's documented example keys "
       "(...EXAMPLE) are public and accepted. Once in an image they must be treated as leaked.",
       "Remove the value, rotate the credential, and read it at build time with `RUN --mount=type=secret`.", "",
       BASE "RUN git clone https://bob:s3cr3tpass@git.example.com/app.git\n",
       BASE "RUN --mount=type=secret,id=git git clone https://git.example.com/app.git\n", ""},
      {"KL004", "secret-file-copied", "No credential files copied from the build context", E,
       "COPY/ADD of `.env`, `id_rsa`, `id_ed25519`, `*.pem`, `*.key`, `.npmrc`, `.pypirc`, `.netrc`, "
       "`.git-credentials`, `.aws/credentials`, `.docker/config.json` that exist in the context and are not "
       "excluded by .dockerignore puts them in a layer, including through `COPY . .`. Without a known context "
       "only sources naming such a file are reported.",
       "Exclude them in .dockerignore; mount what the build needs with `RUN --mount=type=secret`.", "",
       BASE "COPY . /app/\n", BASE "COPY src/ /app/\n", "context"},
      {"KL005", "setuid-setgid", "No setuid or setgid bits", E,
       "A setuid/setgid file runs with its owner's privileges, a classic escalation path. `chmod` with u+s/g+s/+s "
       "or a 4xxx/2xxx/6xxx mode, `install -m 4755` and `COPY --chmod` are reported. setgid on a directory made "
       "with mkdir in the same stage (shared-group directories) is accepted.",
       "Drop the bit; grant a file capability or run the program as the right user instead.", "",
       BASE "RUN chmod u+s /usr/local/bin/tool\n", BASE "RUN chmod 0755 /usr/local/bin/tool\n", ""},
      // ---- base images and stages ----
      {"KL100", "base-image-untagged", "Base image without a tag", W,
       "Without a tag the base is whatever `latest` is today; builds change silently.",
       "Pin a version tag, ideally with a digest: `FROM alpine:3.20@sha256:...`.", "DL3006", "FROM alpine\n", BASE, ""},
      {"KL101", "base-image-latest", "Base image uses :latest", W, "`latest` moves; rebuilding gives a different image.",
       "Pin a version tag and digest.", "DL3007", "FROM alpine:latest\n", BASE, ""},
      {"KL102", "base-image-no-digest", "Base image not pinned by digest", I,
       "Tags can be re-pushed; only a digest pins the exact base.",
       "Append the digest: `FROM alpine:3.20@sha256:<digest>` (tools such as renovate keep it current).", "", BASE,
       "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n", ""},
      {"KL103", "untrusted-registry", "Image from a registry outside the allowlist", E,
       "With `--trusted-registry` (or `trusted-registries` in the config) only those registries may supply images "
       "for FROM, COPY --from and RUN --mount from=. Images without a registry are docker.io. Entries may use a "
       "leading or trailing `*`. Off when no list is configured.",
       "Mirror the image into a trusted registry or add the registry to the list.", "DL3026",
       "FROM quay.io/prometheus/busybox:1.36\n", "FROM docker.io/library/busybox:1.36\n", "trusted-registry"},
      {"KL104", "redundant-platform", "FROM --platform=$TARGETPLATFORM is redundant", W,
       "The target platform is the default already.", "Remove the flag.", "DL3065",
       "FROM --platform=$TARGETPLATFORM alpine:3.20\n", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n", ""},
      {"KL105", "constant-platform", "FROM --platform with a fixed value", W,
       "A hard-coded platform breaks multi-platform builds and emulates needlessly.",
       "Use `--platform=$BUILDPLATFORM` for build stages or omit the flag.", "DL3029",
       "FROM --platform=linux/amd64 alpine:3.20\n", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n", ""},
      {"KL106", "reserved-stage-name", "Stage named with a reserved word", W,
       "`scratch` and `context` have special meaning in FROM and --from.", "Rename the stage.", "DL3063",
       BASE "FROM alpine:3.20 AS context\n", BASE "FROM alpine:3.20 AS base\n", ""},
      // ---- package managers ----
      {"KL200", "apt-unpinned", "apt-get install without version pins", W,
       "Unpinned packages make rebuilds install different versions.", "Pin versions: `apt-get install -y curl=7.88.1-10`.",
       "DL3008", DEB "RUN apt-get install -y --no-install-recommends curl\n",
       DEB "RUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5\n", ""},
      {"KL201", "apt-lists-left", "apt lists not removed in the stage", I,
       "`apt-get update` downloads tens of megabytes of lists that stay in the layer.",
       "End the RUN with `rm -rf /var/lib/apt/lists/*` or use a cache mount on /var/lib/apt/lists.", "DL3009",
       DEB "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10\n",
       DEB "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*\n", ""},
      {"KL202", "apt-no-yes", "apt-get install without -y", W, "Without -y apt-get asks for confirmation and the build fails.",
       "Add `-y`.", "DL3014", DEB "RUN apt-get install --no-install-recommends curl=7.88.1-10\n",
       DEB "RUN apt-get install -y --no-install-recommends curl=7.88.1-10\n", ""},
      {"KL203", "apt-recommends", "apt-get install without --no-install-recommends", I,
       "Recommended packages bloat the image with things nobody asked for.", "Add `--no-install-recommends`.", "DL3015",
       DEB "RUN apt-get install -y curl=7.88.1-10\n", DEB "RUN apt-get install -y --no-install-recommends curl=7.88.1-10\n", ""},
      {"KL204", "apt-upgrade", "apt-get upgrade in a Dockerfile", W,
       "Upgrading inside the build makes the result depend on the day it was built.",
       "Use an up-to-date base image (rebuild it) instead.", "DL3005", DEB "RUN apt-get update && apt-get -y upgrade\n",
       DEB "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10\n", ""},
      {"KL205", "apt-not-apt-get", "apt used in RUN", W, "apt's command line is meant for humans and not stable.",
       "Use apt-get or apt-cache.", "DL3027", DEB "RUN apt install -y curl\n", DEB "RUN apt-get install -y curl\n", ""},
      {"KL206", "apt-update-alone", "apt-get update alone in a RUN", W,
       "The update layer is cached; a later RUN installs from stale lists or fails.",
       "Run `apt-get update && apt-get install ...` in one RUN.", "", DEB "RUN apt-get update\n",
       DEB "RUN apt-get update && apt-get install -y curl\n", ""},
      {"KL207", "apk-unpinned", "apk add without version pins", W, "Unpinned packages change between builds.",
       "Pin: `apk add curl=8.9.1-r0`.", "DL3018", BASE "RUN apk add --no-cache curl\n", BASE "RUN apk add --no-cache curl=8.9.1-r0\n", ""},
      {"KL208", "apk-cache", "apk add without --no-cache", I, "The package index stays in the layer.",
       "Use `apk add --no-cache` or a cache mount on /var/cache/apk.", "DL3019", BASE "RUN apk add curl=8.9.1-r0\n",
       BASE "RUN apk add --no-cache curl=8.9.1-r0\n", ""},
      {"KL209", "pip-unpinned", "pip install without version constraints", W, "Unpinned packages change between builds.",
       "Pin (`pkg==1.2.3`) or install from a requirements/constraints file.", "DL3013",
       "FROM python:3.12\nRUN pip install --no-cache-dir requests\n", "FROM python:3.12\nRUN pip install --no-cache-dir requests==2.32.3\n", ""},
      {"KL210", "pip-cache", "pip install without --no-cache-dir", I, "pip's wheel cache stays in the layer.",
       "Add `--no-cache-dir`, set `ENV PIP_NO_CACHE_DIR=1`, or use a cache mount on /root/.cache/pip.", "DL3042",
       "FROM python:3.12\nRUN pip install -r requirements.txt\n", "FROM python:3.12\nRUN pip install --no-cache-dir -r requirements.txt\n", ""},
      {"KL211", "npm-unpinned", "npm install of a package without a version", W, "Unpinned packages change between builds.",
       "Use `npm install pkg@1.2.3` or `npm ci` with a lockfile.", "DL3016", "FROM node:20\nRUN npm install -g typescript\n",
       "FROM node:20\nRUN npm install -g typescript@5.5.4\n", ""},
      {"KL212", "gem-unpinned", "gem install without a version", W, "Unpinned gems change between builds.",
       "Use `gem install name:1.2.3` or `-v 1.2.3`.", "DL3028", "FROM ruby:3.3\nRUN gem install bundler\n",
       "FROM ruby:3.3\nRUN gem install bundler:2.5.16\n", ""},
      {"KL213", "yum-no-yes", "yum install without -y", W, "yum waits for confirmation and the build fails.", "Add `-y`.",
       "DL3030", "FROM centos:7\nRUN yum install httpd-2.4.6 && yum clean all\n", "FROM centos:7\nRUN yum install -y httpd-2.4.6 && yum clean all\n", ""},
      {"KL214", "yum-clean", "yum install without yum clean all", W, "yum's cache stays in the layer.",
       "End the RUN with `yum clean all`.", "DL3032", "FROM centos:7\nRUN yum install -y httpd-2.4.6\n",
       "FROM centos:7\nRUN yum install -y httpd-2.4.6 && yum clean all\n", ""},
      {"KL215", "yum-unpinned", "yum install without versions", W, "Unpinned packages change between builds.",
       "Pin: `yum install -y httpd-2.4.6`.", "DL3033", "FROM centos:7\nRUN yum install -y httpd && yum clean all\n",
       "FROM centos:7\nRUN yum install -y httpd-2.4.6 && yum clean all\n", ""},
      {"KL216", "dnf-no-yes", "dnf/microdnf install without -y", W, "dnf waits for confirmation and the build fails.",
       "Add `-y`.", "DL3038", "FROM fedora:40\nRUN dnf install httpd-2.4.62 && dnf clean all\n",
       "FROM fedora:40\nRUN dnf install -y httpd-2.4.62 && dnf clean all\n", ""},
      {"KL217", "dnf-clean", "dnf install without dnf clean all", W, "dnf's cache stays in the layer.",
       "End the RUN with `dnf clean all` or use a cache mount on /var/cache/dnf.", "DL3040",
       "FROM fedora:40\nRUN dnf install -y httpd-2.4.62\n", "FROM fedora:40\nRUN dnf install -y httpd-2.4.62 && dnf clean all\n", ""},
      {"KL218", "dnf-unpinned", "dnf install without versions", W, "Unpinned packages change between builds.",
       "Pin: `dnf install -y httpd-2.4.62`.", "DL3041", "FROM fedora:40\nRUN dnf install -y httpd && dnf clean all\n",
       "FROM fedora:40\nRUN dnf install -y httpd-2.4.62 && dnf clean all\n", ""},
      {"KL219", "zypper-interactive", "zypper without --non-interactive", W, "zypper waits for confirmation.",
       "Use `zypper -n install` or `zypper install -y`.", "DL3034",
       "FROM opensuse/leap:15.6\nRUN zypper install curl=8.6.0 && zypper clean\n",
       "FROM opensuse/leap:15.6\nRUN zypper install -y curl=8.6.0 && zypper clean\n", ""},
      {"KL220", "zypper-dist-upgrade", "zypper dist-upgrade in a Dockerfile", W,
       "Upgrading inside the build makes the result depend on the day it was built.", "Use a newer base image.",
       "DL3035", "FROM opensuse/leap:15.6\nRUN zypper -n dist-upgrade\n", "FROM opensuse/leap:15.6\nRUN zypper -n refresh\n", ""},
      {"KL221", "zypper-clean", "zypper install without zypper clean", W, "zypper's cache stays in the layer.",
       "End the RUN with `zypper clean`.", "DL3036", "FROM opensuse/leap:15.6\nRUN zypper install -y curl=8.6.0\n",
       "FROM opensuse/leap:15.6\nRUN zypper install -y curl=8.6.0 && zypper clean\n", ""},
      {"KL222", "zypper-unpinned", "zypper install without versions", W, "Unpinned packages change between builds.",
       "Pin: `zypper install -y curl=8.6.0`.", "DL3037", "FROM opensuse/leap:15.6\nRUN zypper install -y curl && zypper clean\n",
       "FROM opensuse/leap:15.6\nRUN zypper install -y curl=8.6.0 && zypper clean\n", ""},
      {"KL223", "go-install-unpinned", "go install of a remote module without @version", W,
       "`@latest` or no version resolves to whatever is newest at build time.", "Use `go install example.com/tool@v1.2.3`.",
       "DL3062", "FROM golang:1.22\nRUN go install golang.org/x/tools/cmd/goimports@latest\n",
       "FROM golang:1.22\nRUN go install golang.org/x/tools/cmd/goimports@v0.24.0\n", ""},
      {"KL224", "yarn-cache", "yarn install without yarn cache clean", I, "yarn's cache stays in the layer.",
       "Add `&& yarn cache clean` or use a cache mount.", "DL3060", "FROM node:20\nRUN yarn install --frozen-lockfile\n",
       "FROM node:20\nRUN yarn install --frozen-lockfile && yarn cache clean\n", ""},
      // ---- shell in RUN ----
      {"KL300", "pipe-without-pipefail", "Pipe in RUN without -o pipefail", W,
       "/bin/sh only reports the exit status of the last command of a pipe; `curl ... | tar x` succeeds even when "
       "the download failed.",
       "Put `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the RUN, or start the script with "
       "`set -o pipefail &&` where /bin/sh is bash or busybox ash (Debian's dash rejects it).",
       "DL4006", BASE "RUN wget -qO- https://example.com/x.tgz | tar xz\n",
       "FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN wget -qO- https://example.com/x.tgz | tar xz\n", ""},
      {"KL301", "curl-pipe-shell", "Downloaded script piped into a shell", W,
       "`curl ... | sh` runs whatever the server returns, unverified and unpinned.",
       "Download to a file, verify its checksum (`sha256sum -c`), then run it.", "",
       BASE "RUN set -o pipefail && curl -fsSL https://example.com/install.sh | sh\n",
       BASE "RUN curl -fsSLo /tmp/i.sh https://example.com/install.sh && echo \"abc  /tmp/i.sh\" | sha256sum -c && sh /tmp/i.sh\n", ""},
      {"KL302", "sudo", "sudo in RUN", W, "RUN already runs as the current USER; sudo adds a setuid binary and TTY quirks.",
       "Switch with USER, or use gosu/su-exec at runtime.", "DL3004", BASE "RUN sudo apk add --no-cache curl=8.9.1-r0\n",
       BASE "RUN apk add --no-cache curl=8.9.1-r0\n", ""},
      {"KL303", "cd-instead-of-workdir", "cd in RUN instead of WORKDIR", W,
       "A cd only lasts for its RUN; WORKDIR states the directory for every later instruction.", "Use WORKDIR.", "DL3003",
       BASE "RUN cd /app && make\n", BASE "WORKDIR /app\nRUN make\n", ""},
      {"KL304", "pointless-command", "Interactive or host command in RUN", I,
       "ssh, vim, top, ps, kill, free, mount, service and shutdown do nothing useful during a build.",
       "Remove the command; run services from CMD/ENTRYPOINT.", "DL3001", BASE "RUN service nginx start\n",
       BASE "RUN nginx -t\n", ""},
      {"KL305", "replace-bin-sh", "RUN replaces /bin/sh", W, "Relinking /bin/sh changes the shell under every later RUN "
       "and the image's users.", "Use the SHELL instruction.", "DL4005", DEB "RUN ln -sf /bin/bash /bin/sh\n",
       DEB "SHELL [\"/bin/bash\", \"-c\"]\n", ""},
      {"KL306", "curl-and-wget", "Both curl and wget in one stage", I, "Two tools for one job both end up in the image.",
       "Use one of them.", "DL4001", BASE "RUN curl -fsSLO https://example.com/a\nRUN wget -q https://example.com/b\n",
       BASE "RUN curl -fsSLO https://example.com/a && curl -fsSLO https://example.com/b\n", ""},
      {"KL307", "wget-progress", "wget without --progress or -q", I, "wget's progress bar floods the build log.",
       "Add `--progress=dot:giga` or `-q`.", "DL3047", BASE "RUN wget https://example.com/a.tgz\n",
       BASE "RUN wget --progress=dot:giga https://example.com/a.tgz\n", ""},
      {"KL308", "useradd-lastlog", "useradd with a large UID without -l", W,
       "Without -l, useradd writes the UID's slot of the sparse /var/log/lastlog, which can grow to gigabytes in "
       "the layer.", "Add `-l` (`--no-log-init`).", "DL3046", DEB "RUN useradd -u 1000000 app\n",
       DEB "RUN useradd -l -u 1000000 app\n", ""},
      {"KL309", "consecutive-run", "Consecutive RUN instructions", I,
       "Every RUN is a layer; small consecutive RUNs with the same flags can be one.", "Join them with `&&`.", "DL3059",
       BASE "RUN mkdir /app\nRUN chown 1000 /app\n", BASE "RUN mkdir /app && chown 1000 /app\n", ""},
      // ---- instructions ----
      {"KL400", "relative-workdir", "Relative WORKDIR", W, "A relative WORKDIR depends on every WORKDIR before it.",
       "Use an absolute path.", "DL3000", BASE "WORKDIR app\n", BASE "WORKDIR /app\n", ""},
      {"KL401", "add-instead-of-copy", "ADD used where COPY does", W,
       "ADD also fetches URLs and unpacks archives; for plain files that magic is a surprise waiting to happen.",
       "Use COPY for local files and directories.", "DL3020", BASE "ADD src/ /app/\n", BASE "COPY src/ /app/\n", ""},
      {"KL402", "copy-multi-dest", "COPY of several sources to a destination without '/'", W,
       "With several sources the destination must be a directory; docker errors otherwise.", "End the destination with '/'.",
       "DL3021", BASE "COPY a.txt b.txt /app\n", BASE "COPY a.txt b.txt /app/\n", ""},
      {"KL403", "copy-from-self", "COPY --from its own stage", W, "A stage cannot copy from itself.",
       "Name the stage that produces the files.", "DL3023", "FROM alpine:3.20 AS build\nCOPY --from=build /a /b\n",
       "FROM alpine:3.20 AS build\nFROM alpine:3.20\nCOPY --from=build /a /b\n", ""},
      {"KL404", "copy-from-unknown", "COPY --from a later or missing stage", W,
       "--from must name an earlier stage (or an image); a later stage or out-of-range index is a mistake.",
       "Reorder the stages or fix the name.", "DL3022", "FROM alpine:3.20\nCOPY --from=3 /a /b\n",
       "FROM alpine:3.20\nFROM alpine:3.20\nCOPY --from=0 /a /b\n", ""},
      {"KL405", "shell-form-cmd", "CMD/ENTRYPOINT in shell form", W,
       "Shell form runs under /bin/sh -c: the process is not PID 1 and does not receive SIGTERM.",
       "Use the JSON form: `CMD [\"nginx\", \"-g\", \"daemon off;\"]`.", "DL3025", BASE "CMD nginx -g 'daemon off;'\n",
       BASE "CMD [\"nginx\", \"-g\", \"daemon off;\"]\n", ""},
      {"KL406", "multiple-cmd", "More than one CMD in a stage", W, "Only the last CMD takes effect.", "Keep one CMD.",
       "DL4003", BASE "CMD [\"a\"]\nCMD [\"b\"]\n", BASE "CMD [\"b\"]\n", ""},
      {"KL407", "multiple-entrypoint", "More than one ENTRYPOINT in a stage", W, "Only the last ENTRYPOINT takes effect.",
       "Keep one ENTRYPOINT.", "DL4004", BASE "ENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n", BASE "ENTRYPOINT [\"b\"]\n", ""},
      {"KL408", "multiple-healthcheck", "More than one HEALTHCHECK in a stage", W, "Only the last HEALTHCHECK takes effect.",
       "Keep one HEALTHCHECK.", "DL3012", BASE "HEALTHCHECK CMD [\"a\"]\nHEALTHCHECK CMD [\"b\"]\n", BASE "HEALTHCHECK CMD [\"b\"]\n", ""},
      {"KL409", "invalid-expose", "EXPOSE of an invalid port", W, "Ports are 0-65535 with an optional /tcp, /udp or /sctp.",
       "Fix the port.", "DL3011", BASE "EXPOSE 80000\n", BASE "EXPOSE 8080/tcp\n", ""},
      {"KL410", "maintainer", "MAINTAINER is deprecated", W, "MAINTAINER was replaced by labels.",
       "Use `LABEL org.opencontainers.image.authors=\"name <mail>\"`.", "DL4000", BASE "MAINTAINER Jane <j@example.com>\n",
       BASE "LABEL org.opencontainers.image.authors=\"Jane <j@example.com>\"\n", ""},
      {"KL411", "arg-before-declared", "Variable used before its ARG", W,
       "An ARG only takes effect from its line on; a reference above it (or a FROM variable without a global "
       "ARG) expands to an empty string.",
       "Move the ARG above its first use (global ARGs before the first FROM for FROM lines).", "",
       BASE "RUN echo $VERSION\nARG VERSION=1\n", BASE "ARG VERSION=1\nRUN echo $VERSION\n", ""},
      {"KL412", "env-self-reference", "ENV uses a variable it defines", W,
       "Within one ENV instruction new values are not visible yet; `ENV A=1 B=$A` sets B from the old A.",
       "Split it into two ENV instructions.", "DL3044", BASE "ENV DIR=/opt PATH=$DIR/bin:$PATH\n",
       BASE "ENV DIR=/opt\nENV PATH=$DIR/bin:$PATH\n", ""},
      {"KL413", "copy-relative-no-workdir", "COPY to a relative path without WORKDIR", W,
       "Without WORKDIR a relative destination depends on the base image's working directory.",
       "Set WORKDIR first or use an absolute destination.", "DL3045", BASE "COPY app.py app.py\n",
       BASE "WORKDIR /app\nCOPY app.py app.py\n", ""},
      {"KL414", "label-key-format", "Malformed label key", I,
       "Label keys should be lower-case reverse-DNS ([a-z0-9._/-]) and avoid docker's reserved namespaces.",
       "Rename the key, e.g. `org.opencontainers.image.version`.", "DL3048", BASE "LABEL Version=1\n",
       BASE "LABEL org.opencontainers.image.version=1\n", ""},
      {"KL415", "copy-whole-stage", "COPY --from=<stage> / /", W,
       "Copying a whole filesystem drags the build stage's leftovers into the image.", "Copy only the paths you need.",
       "DL3067", "FROM alpine:3.20 AS build\nFROM scratch\nCOPY --from=build / /\n",
       "FROM alpine:3.20 AS build\nFROM scratch\nCOPY --from=build /app /app\n", ""},
  };
}

#undef BASE
#undef DEB

}  // namespace

const std::vector<Rule>& Rules() {
  static const std::vector<Rule> rules = [] {
    auto r = MakeRules();
    std::sort(r.begin(), r.end(), [](const Rule& a, const Rule& b) { return a.id < b.id; });
    return r;
  }();
  return rules;
}

const Rule* FindRule(std::string_view id) {
  const auto& rules = Rules();
  auto it = std::lower_bound(rules.begin(), rules.end(), id, [](const Rule& r, std::string_view v) { return r.id < v; });
  return it != rules.end() && it->id == id ? &*it : nullptr;
}

}  // namespace kiln::frontend::lint
