#include "builder/stage_executor.h"

#include <algorithm>
#include <type_traits>

#include "builder/config_apply.h"
#include "builder/error.h"
#include "builder/layer_cache.h"
#include "builder/layer_lineage.h"
#include "builder/signals.h"
#include "frontend/error.h"
#include "frontend/expand.h"
#include "frontend/stage_graph.h"

namespace kiln::builder {

namespace {

std::string JoinNul(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + std::string(1, '\0');
  return out;
}

// Only the line, so messages read "Dockerfile:5: COPY ...".
frontend::Location LineOnly(frontend::Location l) {
  l.column = 0;
  return l;
}

// The "<<EOF" of a RUN whose whole command is a heredoc.
bool OnlyHeredoc(const frontend::RunCmd& run) {
  if (run.heredocs.size() != 1 || run.args.size() != 1) return false;
  std::string a = run.args[0];
  while (!a.empty() && (a.back() == ' ' || a.back() == '\n' || a.back() == '\t')) a.pop_back();
  size_t i = a.find_first_not_of(" \t");
  return i != std::string::npos && a.compare(i, 2, "<<") == 0 && a.find(' ', i) == std::string::npos;
}

std::string MountText(const frontend::MountSpec& m) {
  std::string s = "type=" + m.type + ",target=" + m.target + ",source=" + m.source + ",from=" + m.from +
                  ",id=" + m.id + ",sharing=" + m.sharing + ",ro=" + (m.readonly ? "1" : "0") +
                  ",required=" + (m.required ? "1" : "0") + ",env=" + m.env;
  if (m.mode) s += ",mode=" + std::to_string(*m.mode);
  if (m.uid) s += ",uid=" + std::to_string(*m.uid);
  if (m.gid) s += ",gid=" + std::to_string(*m.gid);
  if (m.size) s += ",size=" + std::to_string(*m.size);
  return s;
}

}  // namespace

oci::Digest BaseStateDigest(const std::string& kind, const std::string& id) {
  return CacheKeyBuilder().Add("base", kind).Add("id", id).Finish();
}

StageExecutor::StageExecutor(StepRunner& runner, StepCache* cache, BuildContext* context,
                             Progress& progress, std::function<const ImageState*(int)> stage_state)
    : runner_(runner), cache_(cache), context_(context), progress_(progress),
      stage_state_(std::move(stage_state)) {}

const ImageState& StageExecutor::FromRef(const frontend::Dockerfile& df, int index,
                                         const std::string& ref) {
  if (auto s = frontend::ResolveStageRef(df, ref, index)) {
    const ImageState* st = stage_state_(*s);
    if (!st) throw Error({"stage " + ref + " has not been built", "", "", "name a stage defined earlier in the Dockerfile"});
    return *st;
  }
  return runner_.Image(ref);
}

ImageState StageExecutor::Build(const frontend::Dockerfile& df, int index, ImageState base,
                                frontend::StageVars vars, const StageSettings& settings) {
  const frontend::Stage& stage = df.stages.at(size_t(index));
  vars.SetBaseEnv(base.config.config.env);

  // ONBUILD triggers of the base run first, then are cleared (docker).
  std::vector<frontend::Instruction> program;
  for (const auto& trigger : base.config.config.on_build)
    program.push_back(frontend::ParseInstruction(trigger, stage.location, df.escape));
  if (!base.config.config.on_build.empty()) {
    base.config.config.on_build.clear();
    base.digest = CacheKeyBuilder().Add("parent", base.digest.str()).Add("onbuild-cleared", "").Finish();
  }
  for (const auto& inst : stage.instructions) program.push_back(inst);

  // BuildKit counts every WORKDIR as a step (it is a mkdir).
  auto is_workdir = [](const frontend::Instruction& i) {
    return std::holds_alternative<frontend::WorkdirCmd>(i.command);
  };
  int total = 1;
  for (const auto& inst : program)
    if (!IsConfigOnly(inst) || is_workdir(inst)) ++total;
  int step_no = 1;

  ImageState state = std::move(base);
  ConfigScope scope;
  for (const auto& inst : program) {
    ThrowIfCancelled();
    if (settings.stop && settings.stop->load()) throw StageStopped();
    frontend::Instruction expanded = frontend::Expand(inst, vars.ForExpansion(), df.escape);
    // WORKDIR / has nothing to create: config only, as in BuildKit.
    const bool fs_step = !IsConfigOnly(inst) ||
                         (is_workdir(inst) &&
                          JoinWorkdir(state.config.config.working_dir,
                                      std::get<frontend::WorkdirCmd>(expanded.command).path) != "/");
    if (!fs_step) {
      ApplyConfigInstruction(state.config, scope, expanded, settings.created);
      vars.Apply(inst);
      oci::ImageConfig no_history = state.config;
      no_history.history.clear();
      state.digest = CacheKeyBuilder()
                         .Add("parent", state.digest.str())
                         .Add("config", oci::ToJson(no_history))
                         .Add("history", state.config.history.back().created_by)
                         .Finish();
      continue;
    }
    ++step_no;
    std::string text = inst.original;
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    const std::string label = "[" + settings.label + " " + std::to_string(step_no) + "/" +
                              std::to_string(total) + "] " + text;
    state = Step(df, index, state, expanded, vars, settings, label);
  }
  return state;
}

ImageState StageExecutor::Step(const frontend::Dockerfile& df, int index, const ImageState& state,
                               const frontend::Instruction& inst, frontend::StageVars& vars,
                               const StageSettings& settings, const std::string& label) {
  const frontend::Location where = LineOnly(inst.location);
  // The step's own fields; the key is then taken over the parent's state and
  // these, so that COPY --link can also have a key without the parent.
  CacheKeyBuilder key;
  key.Add("keyword", inst.keyword).Add("layer-time", settings.layer_time);
  if (!settings.platform.empty()) key.Add("platform", settings.platform);

  RunRequest run_req;
  CopyRequest copy_req;
  WorkdirRequest workdir_req;
  std::string created_by;
  const bool is_run = std::holds_alternative<frontend::RunCmd>(inst.command);
  const auto* workdir = std::get_if<frontend::WorkdirCmd>(&inst.command);

  if (workdir) {
    workdir_req.path = JoinWorkdir(state.config.config.working_dir, workdir->path);
    workdir_req.user = state.config.config.user;
    workdir_req.where = where;
    created_by = "WORKDIR " + workdir_req.path;
    // The owner comes from USER resolved in the parent's /etc/passwd, which
    // the parent digest already names.
    key.Add("workdir", workdir_req.path).Add("user", workdir_req.user);
  } else if (is_run) {
    const auto& run = std::get<frontend::RunCmd>(inst.command);
    run_req.run = run;
    run_req.where = where;
    if (!run.shell_form) {
      run_req.argv = run.args;
    } else if (OnlyHeredoc(run)) {
      run_req.argv = WithShell(state.config, run.heredocs[0].content);
    } else {
      // The shell reads the heredocs itself: pass the command and bodies as one script.
      std::string script = run.args.empty() ? "" : run.args[0];
      for (const auto& h : run.heredocs) script += "\n" + h.content + h.name;
      run_req.argv = WithShell(state.config, script);
    }
    run_req.env = vars.RunEnv();
    run_req.user = state.config.config.user;
    run_req.cwd = state.config.config.working_dir.empty() ? "/" : state.config.config.working_dir;
    std::vector<std::string> hist_args;
    for (const auto& kv : vars.HistoryArgs()) hist_args.push_back(kv.key + "=" + kv.value);
    created_by = RunCreatedBy(run_req.argv, hist_args);

    key.Add("argv", JoinNul(run_req.argv)).Add("env", JoinNul(run_req.env)).Add("user", run_req.user)
        .Add("cwd", run_req.cwd).Add("network", run.network).Add("security", run.security);
    if (!settings.run_sandbox.empty()) key.Add("run-sandbox", settings.run_sandbox);
    for (const auto& m : run.mounts) {
      const ImageState* from = nullptr;
      if (m.type == "cache" || m.type == "secret" || m.type == "ssh" || m.type == "tmpfs") {
        // Their content never counts; only that they exist and where (and
        // what a cache is seeded from: an input, as in BuildKit's LLB).
        key.Add("mount", "type=" + m.type + ",target=" + m.target);
        if (m.type == "cache" && !m.from.empty()) {
          from = &FromRef(df, index, m.from);
          key.Add("mount-from", from->digest.str()).Add("mount-source", m.source);
        }
      } else {
        key.Add("mount", MountText(m));
        if (!m.from.empty()) {
          from = &FromRef(df, index, m.from);
          key.Add("mount-from", from->digest.str());
        } else if (context_) {
          try {
            auto matches = context_->Match(m.source.empty() ? "." : m.source);
            key.Add("mount-context", context_->SourcesDigest(matches, {}).str());
          } catch (const std::runtime_error& e) {
            throw frontend::Error(where, "RUN --mount source " + m.source + ": " + e.what());
          }
        }
      }
      run_req.mount_from.push_back(from);
    }
  } else {
    const auto& copy = std::get<frontend::CopyCmd>(inst.command);
    copy_req.copy = copy;
    copy_req.where = where;
    copy_req.workdir = state.config.config.working_dir.empty() ? "/" : state.config.config.working_dir;
    created_by = CopyCreatedBy(copy);
    key.Add("dest", copy.dest).Add("workdir", copy_req.workdir).Add("chown", copy.chown)
        .Add("chmod", copy.chmod).Add("flags", std::string(copy.link ? "L" : "") + (copy.parents ? "P" : "") +
                                                (copy.keep_git_dir ? "G" : "") + (copy.unpack_default ? "U" : ""))
        .Add("excludes", JoinNul(copy.excludes)).Add("checksum", copy.checksum);
    if (!copy.chown.empty()) key.Add("user-db-parent", state.digest.str());
    for (const auto& h : copy.heredocs) key.Add("heredoc", h.name + std::string(1, '\0') + h.content);
    if (!copy.from.empty()) {
      copy_req.from = &FromRef(df, index, copy.from);
      key.Add("from", copy_req.from->digest.str());
      for (const auto& s : copy.sources) key.Add("source", s);
    } else {
      for (const auto& s : copy.sources) {
        key.Add("source", s);
        if (s.rfind("<<", 0) == 0) continue;  // heredoc, hashed above
        if (copy.is_add && frontend::IsHttpSource(s)) continue;  // the URL (and --checksum) is the identity
        if (!context_) throw frontend::Error(where, inst.keyword + " " + s + ": no build context");
        try {
          auto matches = context_->Match(s);
          key.Add("content", context_->SourcesDigest(matches, copy.excludes).str());
        } catch (const std::runtime_error& e) {
          throw frontend::Error(where, inst.keyword + " " + s + ": " + e.what());
        }
      }
    }
  }

  const oci::Digest fields_key = key.Finish();
  const oci::Digest step_key = CacheKeyBuilder().Add("parent", state.digest.str()).Add("step", fields_key.str()).Finish();
  // COPY --link makes its layer without looking at the parent (BuildKit's
  // linked layers), so the layer alone is also cached without the parent: a
  // rebuild on a changed base stacks it again instead of copying.
  const auto* copy_cmd = std::get_if<frontend::CopyCmd>(&inst.command);
  std::optional<oci::Digest> link_key;
  if (copy_cmd && copy_cmd->link) link_key = CacheKeyBuilder().Add("linked-layer", fields_key.str()).Finish();
  run_req.lineage = copy_req.lineage = LineageKey(inst.original, state);
  run_req.snapshot = copy_req.snapshot = !settings.exported;
  const int id = progress_.Begin(label);
  std::optional<oci::Layer> layer;
  bool linked_hit = false;
  std::unique_lock<std::mutex> claim;  // released once this step's entry is stored (or it failed)
  if (!settings.no_cache && cache_) {
    claim = cache_->Claim(step_key);
    if (auto hit = cache_->Lookup(step_key)) {
      progress_.Cached(id);
      ++steps_cached_;
      return *hit;
    }
    if (link_key) {
      if (auto hit = cache_->Lookup(*link_key); hit && hit->layers.size() == 1 && hit->config.diff_ids.size() == 1) {
        layer = oci::Layer{hit->layers[0], hit->config.diff_ids[0]};
        linked_hit = true;
      }
    }
  }

  try {
    if (linked_hit) {
      // the layer is in hand
    } else if (workdir) {
      layer = runner_.Workdir(state, workdir_req);
    } else if (is_run) {
      run_req.on_output = [this, id](std::string_view line) { progress_.Output(id, line); };
      layer = runner_.Run(state, run_req);
    } else {
      layer = runner_.Copy(state, copy_req);
    }
  } catch (const StepFailed& e) {
    progress_.Failed(id, e.what());
    ThrowIfCancelled();  // killed by our own signal handler: report the cancel, not the step
    throw StepError(where, inst.original + ": " + e.what(), e.tail());
  } catch (const frontend::Error& e) {
    progress_.Failed(id, e.message());
    throw;
  } catch (const LayerExtractError& e) {
    // A layer of the stage's base (reached through FROM <stage> too) is the
    // cause, not this step: name the FROM line and the layer.
    progress_.Failed(id, e.what());
    const bool from_base = std::any_of(state.layers.begin(), state.layers.end(),
                                       [&](const oci::Descriptor& d) { return d.digest == e.blob(); });
    if (!from_base) throw frontend::Error(where, inst.keyword + ": " + e.what());
    const frontend::Stage& stage = df.stages.at(size_t(index));
    throw frontend::Error(stage.location, "FROM " + stage.from.image + ": base image " + e.what() +
                                              " (unpacked for the next step: " + inst.original + ")");
  } catch (const std::exception& e) {
    progress_.Failed(id, e.what());
    throw frontend::Error(where, inst.keyword + ": " + e.what());
  }
  if (linked_hit) ++steps_cached_;
  else ++steps_run_;

  ImageState next = state;
  if (workdir) {
    ConfigScope no_scope;  // WORKDIR does not touch CMD/ENTRYPOINT state
    ApplyConfigInstruction(next.config, no_scope, inst, settings.created);
    next.config.history.back().empty_layer = !layer.has_value();
  } else {
    oci::History h;
    h.created = settings.created;
    h.created_by = created_by;
    h.comment = kHistoryComment;
    h.empty_layer = !layer.has_value();
    next.config.history.push_back(h);
  }
  if (layer) {
    next.config.diff_ids.push_back(layer->diff_id);
    next.layers.push_back(layer->blob);
  }
  next.digest = step_key;
  if (cache_) {
    cache_->Put(step_key, next, created_by);
    if (link_key && layer && !linked_hit) {
      ImageState alone;
      alone.config.diff_ids = {layer->diff_id};
      alone.layers = {layer->blob};
      alone.digest = *link_key;
      cache_->Put(*link_key, alone, created_by);
    }
  }
  if (linked_hit) progress_.Cached(id);
  else progress_.Done(id);
  return next;
}

}  // namespace kiln::builder
