#include "frontend/instructions.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "frontend/flags.h"
#include "frontend/shell_lex.h"
#include "frontend/suggest.h"
#include "frontend/text_util.h"

namespace kiln::frontend {

namespace {

const std::vector<std::string>& KnownInstructions() {
  static const std::vector<std::string> names = {
      "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
      "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
      "HEALTHCHECK", "SHELL"};
  return names;
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// [begin, end) of `s` without its leading and trailing white space.
std::pair<size_t, size_t> TrimBounds(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return {b, e};
}

std::string Trim(std::string_view s) {
  const auto [b, e] = TrimBounds(s);
  return std::string(s.substr(b, e - b));
}

// Trim in place: no copy when there is nothing to trim (the usual case).
std::string TrimOwned(std::string s) {
  const auto [b, e] = TrimBounds(s);
  s.erase(e);
  s.erase(0, b);
  return s;
}

Location NodeLocation(const Node& node, const std::string& file) {
  return Location{file, node.start_line, 0, node.end_line > 0 ? node.end_line : node.start_line};
}

// The keyword as the user typed it, and its column, for "unknown instruction".
std::pair<std::string, int> WrittenKeyword(const Node& node) {
  const std::string& o = node.original;
  size_t b = 0;
  while (b < o.size() && IsBlank(o[b])) ++b;
  size_t e = b;
  while (e < o.size() && !std::isspace(static_cast<unsigned char>(o[e]))) ++e;
  if (e == b) return {Upper(node.keyword), 1};
  return {o.substr(b, e - b), static_cast<int>(b) + 1};
}

[[noreturn]] void Fail(const Location& where, const std::string& message) {
  throw Error(where, message);
}

void RequireExactlyOne(const Node& node, const Location& where, const std::string& kw) {
  if (node.args.size() != 1) Fail(where, kw + " requires exactly one argument");
}
void RequireAtLeastOne(const Node& node, const Location& where, const std::string& kw) {
  if (node.args.empty()) Fail(where, kw + " requires at least one argument");
}
void RequireNoFlags(const Node& node, const Location& where, const std::string& kw) {
  // ParseFlags produces the precise message (unknown vs. belongs elsewhere).
  ParseFlags(kw, node.flags, where, node.original);
}

// ENV/LABEL arguments come as (key, value, separator) triples where the
// separator is "=" or "" (legacy `ENV key value`); accept plain pairs too.
std::vector<KeyValue> KeyValues(const Node& node, const Location& where, const std::string& kw,
                                char escape) {
  const auto& a = node.args;
  if (a.empty()) Fail(where, kw + " requires at least one argument");
  size_t stride = 2;
  if (a.size() % 3 == 0) {
    stride = 3;
    for (size_t i = 2; i < a.size(); i += 3) {
      if (a[i] != "=" && !a[i].empty()) stride = 2;
    }
  }
  if (a.size() % stride != 0) Fail(where, kw + " requires a value for every name");
  std::vector<KeyValue> out;
  for (size_t i = 0; i < a.size(); i += stride) {
    if (a[i].empty()) Fail(where, kw + " names can not be blank");
    out.push_back(KeyValue{a[i], UnquoteWord(a[i + 1], escape), a[i + 1]});
  }
  return out;
}

std::vector<std::string> CommandArgs(Node& node) {
  if (node.json_form || node.args.size() <= 1) return std::move(node.args);
  // Shell form is one string; join defensively if the parser split it.
  std::string joined = node.args[0];
  for (size_t i = 1; i < node.args.size(); ++i) joined.append(" ").append(node.args[i]);
  return {joined};
}

FromCmd BuildFrom(const Node& node, const Location& where) {
  ParsedFlags flags = ParseFlags("FROM", node.flags, where, node.original);
  FromCmd from;
  from.platform = flags.Get("platform");
  if (node.args.size() == 1 || (node.args.size() == 3 && AsciiLower(node.args[1]) == "as")) {
    from.image = node.args[0];
    if (node.args.size() == 3) {
      from.name = AsciiLower(node.args[2]);
      // BuildKit's rule: ^[a-z][a-z0-9-_.]*$ (after lower-casing).
      bool valid = !from.name.empty() && from.name[0] >= 'a' && from.name[0] <= 'z' &&
                   std::all_of(from.name.begin(), from.name.end(), [](char c) {
                     return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.';
                   });
      if (!valid) {
        Fail(where, "invalid name for build stage: \"" + node.args[2] +
                        "\", name can't start with a number or contain symbols");
      }
    }
    return from;
  }
  if (node.args.size() == 3) Fail(where, "FROM expects \"AS\" before the stage name, got \"" +
                                             node.args[1] + "\"");
  Fail(where, "FROM requires either one or three arguments (FROM image [AS name])");
}

CopyCmd BuildCopy(Node& node, const Location& where, bool is_add) {
  std::string kw = is_add ? "ADD" : "COPY";
  ParsedFlags flags = ParseFlags(kw, node.flags, where, node.original);
  if (node.args.size() < 2) {
    Fail(where, kw + " requires at least two arguments, but only " +
                    std::to_string(node.args.size()) +
                    " provided. Destination could not be determined");
  }
  CopyCmd c;
  c.is_add = is_add;
  c.dest = std::move(node.args.back());
  node.args.pop_back();
  c.sources = std::move(node.args);
  c.from = flags.Get("from");
  if (flags.Has("from") && c.from.empty()) Fail(where, "--from requires a stage name, index or image");
  c.chown = flags.Get("chown");
  c.chmod = flags.Get("chmod");
  c.link = flags.GetBool("link");
  c.parents = flags.GetBool("parents");
  c.keep_git_dir = flags.GetBool("keep-git-dir");
  c.unpack_default = is_add && (!flags.Has("unpack") || flags.GetBool("unpack"));
  c.excludes = flags.GetAll("exclude");
  c.checksum = flags.Get("checksum");
  if (!c.checksum.empty() && c.checksum.find('$') == std::string::npos &&
      c.checksum.find(':') == std::string::npos) {
    Fail(where, "invalid --checksum \"" + c.checksum + "\" (expected algorithm:hex)");
  }
  c.heredocs = std::move(node.heredocs);
  for (const auto& s : c.sources) {
    auto name = HeredocSourceName(s);
    if (name && std::none_of(c.heredocs.begin(), c.heredocs.end(), [&](const Heredoc& h) { return h.name == *name; }))
      Fail(where, kw + " " + s + ": no heredoc of that name");
  }
  return c;
}

RunCmd BuildRun(Node& node, const Location& where) {
  ParsedFlags flags = ParseFlags("RUN", node.flags, where, node.original);
  RunCmd r;
  r.args = CommandArgs(node);
  r.shell_form = !node.json_form;
  r.heredocs = std::move(node.heredocs);
  if (r.args.empty() && r.heredocs.empty()) Fail(where, "RUN requires at least one argument");
  r.network = flags.Get("network");
  if (!r.network.empty() && r.network.find('$') == std::string::npos && r.network != "default" &&
      r.network != "none" && r.network != "host") {
    Fail(where, "unsupported network mode \"" + r.network + "\" (default, none or host)");
  }
  r.security = flags.Get("security");
  if (!r.security.empty() && r.security != "sandbox" && r.security != "insecure") {
    Fail(where, "unsupported security mode \"" + r.security + "\" (sandbox or insecure)");
  }
  r.mount_flags = flags.GetAll("mount");
  for (const auto& m : r.mount_flags) {
    try {
      r.mounts.push_back(ParseMount(m));
    } catch (const std::runtime_error& e) {
      Fail(where, std::string("--mount: ") + e.what());
    }
  }
  return r;
}

HealthcheckCmd BuildHealthcheck(const Node& node, const Location& where) {
  ParsedFlags flags = ParseFlags("HEALTHCHECK", node.flags, where, node.original);
  RequireAtLeastOne(node, where, "HEALTHCHECK");
  HealthcheckCmd h;
  std::string type = Upper(node.args[0]);
  if (type == "NONE") {
    if (node.args.size() != 1) Fail(where, "HEALTHCHECK NONE takes no arguments");
    if (!node.flags.empty()) Fail(where, "HEALTHCHECK NONE takes no flags");
    h.none = true;
    return h;
  }
  if (type != "CMD") Fail(where, "unknown type \"" + node.args[0] + "\" in HEALTHCHECK (try CMD)");
  if (node.args.size() < 2) Fail(where, "missing command after HEALTHCHECK CMD");
  if (node.json_form) {
    h.test.push_back("CMD");
    h.test.insert(h.test.end(), node.args.begin() + 1, node.args.end());
  } else {
    std::string cmd;
    for (size_t i = 1; i < node.args.size(); ++i) cmd += (i > 1 ? " " : "") + node.args[i];
    h.test = {"CMD-SHELL", cmd};
  }
  auto duration = [&](const char* name, std::optional<long long>* out) {
    if (!flags.Has(name)) return;
    try {
      *out = ParseHealthcheckDuration(name, flags.Get(name));
    } catch (const std::runtime_error& e) {
      Fail(where, std::string("HEALTHCHECK ") + e.what());
    }
  };
  duration("interval", &h.interval_ns);
  duration("timeout", &h.timeout_ns);
  duration("start-period", &h.start_period_ns);
  duration("start-interval", &h.start_interval_ns);
  if (flags.Has("retries")) {
    std::string v = flags.Get("retries");
    size_t used = 0;
    long long n = -1;
    try {
      n = std::stoll(v, &used, 10);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.empty()) Fail(where, "HEALTHCHECK --retries is not a number: " + v);
    if (n < 0) Fail(where, "HEALTHCHECK --retries cannot be negative (" + v + ")");
    if (n > 0x7fffffff) Fail(where, "HEALTHCHECK --retries is too large (" + v + ")");
    h.retries = static_cast<int>(n);
  }
  return h;
}

ArgCmd BuildArg(const Node& node, const Location& where, char escape) {
  RequireNoFlags(node, where, "ARG");
  RequireAtLeastOne(node, where, "ARG");
  ArgCmd a;
  for (const auto& word : node.args) {
    ArgDecl d;
    auto eq = word.find('=');
    d.name = word.substr(0, eq);
    if (d.name.empty()) Fail(where, "ARG names can not be blank");
    if (eq != std::string::npos) {
      d.raw_value = word.substr(eq + 1);
      d.value = UnquoteWord(*d.raw_value, escape);
    }
    a.args.push_back(std::move(d));
  }
  return a;
}

Instruction BuildOne(Node node, const std::string& file, char escape);

OnbuildCmd BuildOnbuild(const Node& node, const Location& where, const std::string& file,
                        char escape) {
  RequireNoFlags(node, where, "ONBUILD");
  std::string expression;
  if (node.inner) {
    std::string inner_kw = Upper(node.inner->keyword);
    if (inner_kw == "ONBUILD") Fail(where, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (inner_kw == "FROM" || inner_kw == "MAINTAINER") {
      Fail(where, inner_kw + " isn't allowed as an ONBUILD trigger");
    }
    BuildOne(*node.inner, file, escape);  // validate the trigger now, not in a child build
    expression = Trim(node.inner->original);
  }
  if (expression.empty()) {
    // Strip the ONBUILD keyword from the original text.
    std::string text = Trim(node.original);
    if (Upper(text.substr(0, 7)) == "ONBUILD") text.erase(0, 7);
    expression = Trim(text);
  }
  if (expression.empty()) Fail(where, "ONBUILD requires at least one argument");
  return OnbuildCmd{expression};
}

// Takes the node by value: its strings move into the instruction.
Instruction BuildOne(Node node, const std::string& file, char escape) {
  Instruction out;
  out.location = NodeLocation(node, file);
  const Location& where = out.location;  // one copy of the file name per instruction
  std::string kw = Upper(node.keyword);
  // Compared as a view: libstdc++ 12 compares std::string with a literal out
  // of line (strlen + memcmp); string_view checks the size first.
  const std::string_view k = kw;
  out.keyword = kw;
  if (std::find(KnownInstructions().begin(), KnownInstructions().end(), kw) ==
      KnownInstructions().end()) {
    auto [written, column] = WrittenKeyword(node);
    Location at = where;
    at.column = column;
    std::string msg = "unknown instruction \"" + written + "\"";
    if (auto s = Suggest(kw, KnownInstructions())) msg += " (did you mean " + *s + "?)";
    Fail(at, msg);
  }
  if (k == "FROM") {
    out.command = BuildFrom(node, where);
  } else if (k == "RUN") {
    out.command = BuildRun(node, where);
  } else if (k == "COPY" || k == "ADD") {
    out.command = BuildCopy(node, where, k == "ADD");
  } else if (k == "CMD" || k == "ENTRYPOINT") {
    RequireNoFlags(node, where, kw);
    if (k == "CMD") {
      out.command = CmdCmd{CommandArgs(node), !node.json_form};
    } else {
      out.command = EntrypointCmd{CommandArgs(node), !node.json_form};
    }
  } else if (k == "SHELL") {
    RequireNoFlags(node, where, kw);
    if (!node.json_form) Fail(where, "SHELL requires the arguments to be in JSON form");
    RequireAtLeastOne(node, where, kw);
    out.command = ShellCmd{std::move(node.args)};
  } else if (k == "ENV") {
    RequireNoFlags(node, where, kw);
    out.command = EnvCmd{KeyValues(node, where, kw, escape)};
  } else if (k == "LABEL") {
    RequireNoFlags(node, where, kw);
    out.command = LabelCmd{KeyValues(node, where, kw, escape)};
  } else if (k == "ARG") {
    out.command = BuildArg(node, where, escape);
  } else if (k == "EXPOSE") {
    RequireNoFlags(node, where, kw);
    RequireAtLeastOne(node, where, kw);
    out.command = ExposeCmd{std::move(node.args)};
  } else if (k == "VOLUME") {
    RequireNoFlags(node, where, kw);
    RequireAtLeastOne(node, where, kw);
    for (const auto& p : node.args) {
      if (Trim(p).empty()) Fail(where, "VOLUME specified can not be an empty string");
    }
    out.command = VolumeCmd{std::move(node.args)};
  } else if (k == "USER") {
    RequireNoFlags(node, where, kw);
    RequireExactlyOne(node, where, kw);
    out.command = UserCmd{std::move(node.args[0])};
  } else if (k == "WORKDIR") {
    RequireNoFlags(node, where, kw);
    RequireExactlyOne(node, where, kw);
    out.command = WorkdirCmd{std::move(node.args[0])};
  } else if (k == "STOPSIGNAL") {
    RequireNoFlags(node, where, kw);
    RequireExactlyOne(node, where, kw);
    out.command = StopsignalCmd{std::move(node.args[0])};
  } else if (k == "MAINTAINER") {
    RequireNoFlags(node, where, kw);
    RequireAtLeastOne(node, where, kw);
    std::string name;
    for (size_t i = 0; i < node.args.size(); ++i) name += (i ? " " : "") + node.args[i];
    out.command = MaintainerCmd{name};
  } else if (k == "ONBUILD") {
    out.command = BuildOnbuild(node, where, file, escape);
  } else if (k == "HEALTHCHECK") {
    out.command = BuildHealthcheck(node, where);
  }
  out.original = TrimOwned(std::move(node.original));
  return out;
}

}  // namespace

std::optional<std::string> HeredocSourceName(std::string_view source) {
  if (!source.starts_with("<<")) return std::nullopt;
  std::string_view name = source.substr(source.starts_with("<<-") ? 3 : 2);
  if (name.size() >= 2 && (name.front() == '\'' || name.front() == '"') && name.back() == name.front())
    name = name.substr(1, name.size() - 2);
  return std::string(name);
}

Dockerfile BuildInstructions(ParseResult parsed) {
  Dockerfile df;
  df.filename = parsed.filename;
  df.escape = parsed.escape;
  df.warnings = std::move(parsed.warnings);
  // Each stage's instructions, counted first so its vector is allocated once.
  std::vector<size_t> stage_sizes;
  for (const Node& node : parsed.instructions) {
    if (node.keyword == "from") stage_sizes.push_back(0);
    else if (!stage_sizes.empty()) ++stage_sizes.back();
  }
  df.stages.reserve(stage_sizes.size());
  for (Node& node : parsed.instructions) {
    Instruction in;
    try {
      in = BuildOne(std::move(node), parsed.filename, parsed.escape);
    } catch (const std::runtime_error& e) {
      if (dynamic_cast<const Error*>(&e)) throw;
      throw Error(NodeLocation(node, parsed.filename), e.what());  // e.g. unbalanced quote
    }
    if (auto* from = std::get_if<FromCmd>(&in.command)) {
      Stage stage;
      stage.index = static_cast<int>(df.stages.size());
      stage.name = from->name;
      stage.from = *from;
      stage.location = in.location;
      stage.instructions.reserve(stage_sizes[df.stages.size()]);
      if (!stage.name.empty()) {
        for (const auto& other : df.stages) {
          if (other.name == stage.name) {
            throw Error(in.location, "duplicate stage name \"" + stage.name + "\" (first defined at " +
                                         other.location.str() + ")");
          }
        }
      }
      df.stages.push_back(std::move(stage));
      continue;
    }
    if (df.stages.empty()) {
      if (auto* arg = std::get_if<ArgCmd>(&in.command)) {
        df.global_args.push_back(*arg);
        df.global_arg_locations.push_back(in.location);
        continue;
      }
      throw Error(in.location, in.keyword +
                                   " before the first FROM: only ARG may come before FROM");
    }
    df.stages.back().instructions.push_back(std::move(in));
  }
  if (df.stages.empty()) {
    throw Error(Location{parsed.filename, 0, 0, 0}, "no FROM instruction: a Dockerfile needs at least one build stage");
  }
  return df;
}

Dockerfile ParseDockerfile(std::string_view text, const std::string& filename) {
  return BuildInstructions(Parse(text, filename));
}

Instruction ParseInstruction(std::string_view text, const Location& where, char escape) {
  // Parse needs the escape directive to honour a non-default escape char.
  std::string source;
  if (escape != '\\') source = std::string("# escape=") + escape + "\n";
  source += text;
  ParseResult parsed;
  try {
    parsed = Parse(source, where.file);
  } catch (const Error& e) {
    throw Error(where, e.message());
  }
  if (parsed.instructions.size() != 1) {
    throw Error(where, "expected exactly one instruction, got " +
                           std::to_string(parsed.instructions.size()) + ": " + std::string(text));
  }
  try {
    Instruction in = BuildOne(std::move(parsed.instructions[0]), where.file, escape);
    in.location = where;
    return in;
  } catch (const Error& e) {
    throw Error(where, e.message());
  }
}

}  // namespace kiln::frontend
