// Config-only instructions -> image config and history, as BuildKit's
// dockerfile2llb records them (created_by texts, empty_layer, the
// "buildkit.dockerfile.v0" comment), so `docker history` style tools and
// image diffs see what they would for a BuildKit image.
#pragma once

#include <string>
#include <vector>

#include "frontend/instructions.h"
#include "oci/image.h"

namespace kiln::builder {

inline constexpr const char* kHistoryComment = "buildkit.dockerfile.v0";

// Per-stage facts the config rules need beyond the config itself.
struct ConfigScope {
  bool cmd_set = false;  // CMD given in this stage (a later ENTRYPOINT then keeps it)
};

// The config a `FROM scratch` stage starts with (BuildKit gives it a PATH).
oci::ImageConfig ScratchConfig(const oci::Platform& platform);
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// True for instructions that only change the config (everything except
// RUN, COPY, ADD and FROM).
bool IsConfigOnly(const frontend::Instruction& inst);

// Applies an already-expanded config-only instruction and appends its history
// entry (created = `created`, empty_layer = true). ARG only records history.
// Throws frontend::Error for values docker rejects (bad port).
void ApplyConfigInstruction(oci::ImageConfig& config, ConfigScope& scope,
                            const frontend::Instruction& inst, const std::string& created);

// Shell-form arguments wrapped in the image's SHELL (default /bin/sh -c).
std::vector<std::string> WithShell(const oci::ImageConfig& config, const std::string& command);

// Go's fmt "%q" of a []string: ["a" "b c"].
std::string GoQuoteList(const std::vector<std::string>& items);

// History texts of layer-producing steps.
// RUN: "RUN |2 A=1 B=2 /bin/sh -c make # buildkit" (build args the step sees
// listed first when there are any).
std::string RunCreatedBy(const std::vector<std::string>& argv,
                         const std::vector<std::string>& build_arg_env);
// COPY/ADD: "COPY a b /dst/ # buildkit" (heredoc sources as "<<NAME").
std::string CopyCreatedBy(const frontend::CopyCmd& copy);

// Sets or replaces K in a "K=V" list, keeping order.
void SetEnv(std::vector<std::string>& env, const std::string& key, const std::string& value);
// Value of K in a "K=V" list, or nullptr.
const std::string* FindEnv(const std::vector<std::string>& env, const std::string& key,
                           std::string* storage);

// WORKDIR rules: relative paths join the current one; result is clean and absolute.
std::string JoinWorkdir(const std::string& current, const std::string& path);

}  // namespace kiln::builder
