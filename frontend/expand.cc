#include "frontend/expand.h"

#include <stdexcept>

#include "frontend/flags.h"
#include "frontend/shell_lex.h"
#include "frontend/text_util.h"

namespace kiln::frontend {

Instruction Expand(const Instruction& in, const VarMap& vars, char escape) {
  ShellLex lex(escape);
  auto fail = [&](const std::exception& e) -> Error {
    return Error(in.location, in.keyword + ": " + e.what());
  };
  auto word = [&](const std::string& w) -> std::string {
    if (w.find_first_of("$'\"") == std::string::npos && w.find(escape) == std::string::npos) {
      return w;  // nothing the lexer would change
    }
    try {
      return lex.ProcessWord(w, vars);
    } catch (const Error&) {
      throw;
    } catch (const std::runtime_error& e) {
      throw fail(e);
    }
  };
  auto words = [&](std::vector<std::string>& list) {
    for (auto& w : list) w = word(w);
  };
  auto kvs = [&](std::vector<KeyValue>& list) {
    for (auto& kv : list) {
      kv.key = word(kv.key);
      kv.value = word(kv.raw);
      kv.raw = EscapeWord(kv.value, escape);
    }
  };

  // Heredoc bodies as the step sees them: `<<-` tabs chomped; COPY bodies
  // with unquoted delimiters expanded like BuildKit (quotes kept, they are
  // file content); RUN bodies are left to the shell.
  auto resolve_heredocs = [&](std::vector<Heredoc>& heredocs, bool expand_allowed) {
    for (auto& h : heredocs) {
      std::string body = h.Body();
      if (expand_allowed && h.expand) {
        ShellLex hl(escape);
        hl.skip_process_quotes = true;
        hl.raw_escapes = true;
        try {
          body = hl.ProcessWord(body, vars);
        } catch (const std::exception& e) {
          throw Error(in.location, "heredoc <<" + h.name + ": " + e.what());
        }
      }
      h.content = std::move(body);
      h.chomp = false;
    }
  };

  Instruction out = in;
  std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, FromCmd>) {
          c.image = word(c.image);
          c.platform = word(c.platform);
        } else if constexpr (std::is_same_v<T, CopyCmd>) {
          // Heredoc sources ("<<EOF") are names, not paths: leave them.
          for (auto& s : c.sources) {
            if (s.rfind("<<", 0) != 0) s = word(s);
          }
          c.dest = word(c.dest);
          c.from = word(c.from);
          c.chown = word(c.chown);
          c.chmod = word(c.chmod);
          c.checksum = word(c.checksum);
          words(c.excludes);
          resolve_heredocs(c.heredocs, true);
        } else if constexpr (std::is_same_v<T, RunCmd>) {
          resolve_heredocs(c.heredocs, false);
          c.mounts.clear();
          WordExpander expander = word;
          for (const auto& m : c.mount_flags) {
            try {
              c.mounts.push_back(ParseMount(m, &expander));
            } catch (const Error&) {
              throw;
            } catch (const std::runtime_error& e) {
              throw Error(in.location, std::string("--mount: ") + e.what());
            }
          }
          c.network = word(c.network);
          if (!c.network.empty() && c.network != "default" && c.network != "none" &&
              c.network != "host") {
            throw Error(in.location, "unsupported network mode \"" + c.network + "\"");
          }
        } else if constexpr (std::is_same_v<T, EnvCmd>) {
          kvs(c.vars);
        } else if constexpr (std::is_same_v<T, LabelCmd>) {
          kvs(c.labels);
        } else if constexpr (std::is_same_v<T, ArgCmd>) {
          for (auto& a : c.args) {
            a.name = word(a.name);
            if (a.raw_value) {
              a.value = word(*a.raw_value);
              a.raw_value = EscapeWord(*a.value, escape);
            }
          }
        } else if constexpr (std::is_same_v<T, ExposeCmd>) {
          // EXPOSE splits words after expansion: EXPOSE $PORTS with PORTS="80 443".
          std::vector<std::string> ports;
          for (const auto& p : c.ports) {
            try {
              auto split = lex.ProcessWords(p, [&](const std::string& name) -> std::optional<std::string> {
                auto it = vars.find(name);
                if (it == vars.end()) return std::nullopt;
                return it->second;
              });
              ports.insert(ports.end(), split.begin(), split.end());
            } catch (const std::runtime_error& e) {
              throw fail(e);
            }
          }
          c.ports = std::move(ports);
        } else if constexpr (std::is_same_v<T, VolumeCmd>) {
          words(c.paths);
          for (const auto& p : c.paths)
            if (p.empty()) throw Error(in.location, "VOLUME specified can not be an empty string");
        } else if constexpr (std::is_same_v<T, UserCmd>) {
          c.user = word(c.user);
        } else if constexpr (std::is_same_v<T, WorkdirCmd>) {
          c.path = word(c.path);
        } else if constexpr (std::is_same_v<T, StopsignalCmd>) {
          c.signal = word(c.signal);
        }
        // CMD, ENTRYPOINT, SHELL, RUN text, HEALTHCHECK, MAINTAINER and ONBUILD
        // are not expanded at build time (the shell or the child build does it).
      },
      out.command);
  return out;
}

}  // namespace kiln::frontend
