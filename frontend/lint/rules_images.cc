// Base image and stage rules (KL1xx).
#include <set>

#include "frontend/lint/rules_common.h"

namespace kiln::frontend::lint {
namespace {

struct ImageRef {
  std::string registry;  // "docker.io" when the reference names none
  std::string tag;       // "" when absent
  std::string digest;    // "" when absent
};

ImageRef SplitImage(const std::string& image) {
  ImageRef r;
  std::string rest = image;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest.resize(at);
  }
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    std::string first = rest.substr(0, slash);
    if (first.find_first_of(".:") != std::string::npos || first == "localhost") r.registry = first;
  }
  if (r.registry.empty()) r.registry = "docker.io";
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) r.tag = rest.substr(colon + 1);
  return r;
}

bool Trusted(const std::vector<std::string>& trusted, const std::string& registry) {
  for (const auto& t : trusted) {
    if (t == registry) return true;
    if (registry == "docker.io" && (t == "index.docker.io" || t == "registry-1.docker.io" || t == "hub.docker.com")) return true;
    if (t.starts_with("*") && registry.ends_with(t.substr(1))) return true;
    if (t.ends_with("*") && registry.starts_with(t.substr(0, t.size() - 1))) return true;
  }
  return false;
}

void CheckTrusted(RuleContext& ctx, const Location& where, const std::string& image, const std::string& what) {
  if (ctx.trusted_registries.empty() || image.empty() || image.find('$') != std::string::npos || AsciiLower(image) == "scratch")
    return;
  auto ref = SplitImage(image);
  if (Trusted(ctx.trusted_registries, ref.registry)) return;
  std::string list;
  for (const auto& t : ctx.trusted_registries) list += (list.empty() ? "" : ", ") + t;
  ctx.Report("KL103", where,
             what + " " + image + " comes from registry " + ref.registry + ", which is not trusted (trusted: " + list + ")");
}

}  // namespace

void CheckImageRules(RuleContext& ctx) {
  for (const auto& st : ctx.df.stages) {
    const std::string& image = st.from.image;
    const bool is_stage = ctx.StageRef(image, st.index) >= 0;
    const bool exempt = is_stage || image.empty() || StartsWithVar(image) || AsciiLower(image) == "scratch" ||
                        image.find("${") != std::string::npos;
    if (!exempt) {
      auto ref = SplitImage(image);
      if (ref.tag.empty() && ref.digest.empty())
        ctx.Report("KL100", st.location, "base image " + image + " has no tag; pin a version tag (and digest) so builds are reproducible");
      else if (ref.tag == "latest" && ref.digest.empty())
        ctx.Report("KL101", st.location, "base image " + image + " uses the :latest tag; pin a version tag (and digest)");
      else if (ref.digest.empty())
        ctx.Report("KL102", st.location, "base image " + image + " is not pinned by digest; append @sha256:... so the tag cannot move under you");
    }
    if (!is_stage) CheckTrusted(ctx, st.location, image, "base image");
    const std::string& platform = st.from.platform;
    if (!platform.empty()) {
      if (platform == "$TARGETPLATFORM" || platform == "${TARGETPLATFORM}")
        ctx.Report("KL104", st.location, "--platform=" + platform + " is the default already; remove it");
      else if (platform.find("BUILDPLATFORM") == std::string::npos && platform.find("TARGET") == std::string::npos)
        ctx.Report("KL105", st.location,
                   "FROM --platform=" + platform + " hard-codes the platform; use $BUILDPLATFORM/$TARGETPLATFORM or drop it");
    }
    if (!st.name.empty()) {
      if (st.name == "scratch" || st.name == "context")
        ctx.Report("KL106", st.location, "stage name '" + st.name + "' is a reserved word; choose another name");
    }
    for (const auto& ins : st.instructions) {
      if (const auto* cp = std::get_if<CopyCmd>(&ins.command)) {
        if (!cp->from.empty() && ctx.StageRef(cp->from, st.index) < 0 && cp->from != std::to_string(st.index) &&
            AsciiLower(cp->from) != st.name)
          CheckTrusted(ctx, ins.location, cp->from, "COPY --from image");
      } else if (const auto* run = std::get_if<RunCmd>(&ins.command)) {
        for (const auto& m : run->mounts)
          if (!m.from.empty() && ctx.StageRef(m.from, st.index) < 0 && m.from != "context")
            CheckTrusted(ctx, ins.location, m.from, "RUN --mount from image");
      }
    }
  }
}

}  // namespace kiln::frontend::lint
