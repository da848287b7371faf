// Typed Dockerfile instructions, built from the parse tree (ast.h).
//
// Values are kept as written (unexpanded) in the typed commands; the builder
// expands each instruction when it dispatches it, because expansion depends on
// the stage's environment at that point (base image ENV, ARG, ENV, --build-arg).
// Expand() does that with BuildKit's rules for which fields expand.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "frontend/ast.h"
#include "frontend/error.h"

namespace kiln::frontend {

// RUN --mount=type=...,key=value
struct MountSpec {
  std::string type = "bind";  // bind | cache | tmpfs | secret | ssh
  std::string target;         // also "dst", "destination"
  std::string source;         // also "src"
  std::string from;           // stage name/index or image
  std::string id;             // cache/secret id
  std::string sharing = "shared";  // cache: shared | private | locked
  bool readonly = false;      // bind defaults to true, handled by the parser of the flag
  bool required = false;      // secret
  std::string env;            // secret exposed as env var
  std::optional<unsigned> mode, uid, gid;
  std::optional<unsigned long long> size;  // tmpfs
};

struct FromCmd {
  std::string image;     // as written, may contain $ARG references
  std::string name;      // "AS name", lower-cased; empty when absent
  std::string platform;  // --platform
};
struct RunCmd {
  std::vector<std::string> args;  // exec form: argv; shell form: one string
  bool shell_form = true;
  std::vector<MountSpec> mounts;
  std::vector<std::string> mount_flags;  // raw --mount values; Expand re-parses them
  std::string network;   // "", "default", "none", "host"
  std::string security;  // "", "sandbox", "insecure"
  std::vector<Heredoc> heredocs;
};
// An ADD source that is fetched over HTTP(S) instead of read from the context.
inline bool IsHttpSource(std::string_view s) { return s.starts_with("http://") || s.starts_with("https://"); }

struct CopyCmd {               // COPY and ADD
  bool is_add = false;
  std::vector<std::string> sources;  // heredoc sources appear as "<<NAME" entries
  std::string dest;
  std::string from;            // --from
  std::string chown, chmod;    // as written
  // unpack_default: ADD extracts local archives (false with --unpack=false);
  // always false for COPY.
  bool link = false, parents = false, keep_git_dir = false, unpack_default = true;
  std::vector<std::string> excludes;
  std::string checksum;        // ADD --checksum
  std::vector<Heredoc> heredocs;
};
// The heredoc a COPY/ADD source names ("<<EOF", "<<-EOF", "<<'EOF'",
// "<<\"EOF\"" all name EOF), or nullopt for a path. Every such name is
// checked against the instruction's heredocs when it is built.
std::optional<std::string> HeredocSourceName(std::string_view source);
struct CmdCmd { std::vector<std::string> args; bool shell_form = true; };
struct EntrypointCmd { std::vector<std::string> args; bool shell_form = true; };
struct ShellCmd { std::vector<std::string> args; };
// `value` has quotes removed and escapes processed but $VAR references kept;
// `raw` is the value as written (quotes kept), which Expand() evaluates.
// After Expand(), value is final and raw is its escaped form.
struct KeyValue { std::string key, value, raw; };
struct EnvCmd { std::vector<KeyValue> vars; };       // values unquoted, unexpanded
struct LabelCmd { std::vector<KeyValue> labels; };
struct ArgDecl {
  std::string name;
  std::optional<std::string> value;      // unquoted default, as KeyValue::value
  std::optional<std::string> raw_value;  // default as written
};
struct ArgCmd { std::vector<ArgDecl> args; };
struct ExposeCmd { std::vector<std::string> ports; };
struct VolumeCmd { std::vector<std::string> paths; };
struct UserCmd { std::string user; };
struct WorkdirCmd { std::string path; };
struct StopsignalCmd { std::string signal; };
struct MaintainerCmd { std::string name; };
struct OnbuildCmd { std::string expression; };  // the wrapped instruction's text
struct HealthcheckCmd {
  bool none = false;                 // HEALTHCHECK NONE
  std::vector<std::string> test;     // ["CMD", ...] or ["CMD-SHELL", "..."]
  std::optional<long long> interval_ns, timeout_ns, start_period_ns, start_interval_ns;
  std::optional<int> retries;
};

using Command = std::variant<FromCmd, RunCmd, CopyCmd, CmdCmd, EntrypointCmd, ShellCmd,
                             EnvCmd, LabelCmd, ArgCmd, ExposeCmd, VolumeCmd, UserCmd,
                             WorkdirCmd, StopsignalCmd, MaintainerCmd, OnbuildCmd,
                             HealthcheckCmd>;

struct Instruction {
  Command command;
  std::string keyword;   // upper-case, "RUN"
  std::string original;  // source text of the instruction (for history created_by)
  Location location;     // line .. end_line
};

struct Stage {
  int index = 0;
  std::string name;          // lower-cased "AS" name or empty
  FromCmd from;
  Location location;         // the FROM line
  std::vector<Instruction> instructions;  // after FROM
};

struct Dockerfile {
  std::string filename;
  char escape = '\\';
  std::vector<ArgCmd> global_args;  // ARGs before the first FROM, in order
  std::vector<Location> global_arg_locations;
  std::vector<Stage> stages;
  std::vector<Warning> warnings;
};

// Typed view of a parse tree. Throws Error (with location) for unknown
// instructions ("did you mean COPY?"), bad or misplaced flags, malformed
// arguments, instructions before the first FROM other than ARG.
Dockerfile BuildInstructions(ParseResult parsed);

// Convenience: Parse + BuildInstructions.
Dockerfile ParseDockerfile(std::string_view text, const std::string& filename = "Dockerfile");

// Parses one instruction given as text (ONBUILD triggers of a base image).
Instruction ParseInstruction(std::string_view text, const Location& where, char escape = '\\');

// Variables visible while dispatching a stage, with docker's scoping: ARG
// values (build-arg overrides, declared defaults), ENV shadowing ARG.
using VarMap = std::map<std::string, std::string>;

}  // namespace kiln::frontend
