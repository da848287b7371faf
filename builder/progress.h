// Build progress for humans: a compact live view on a terminal, BuildKit-like
// "#N ..." lines with --progress=plain, nothing but the digest with --quiet.
// Thread-safe (stages run in parallel).
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "builder/build_options.h"

namespace kiln::builder {

class Progress {
 public:
  virtual ~Progress() = default;
  // A step starts; returns its id. `label` is "[stage 1/3] RUN make" style.
  virtual int Begin(const std::string& label) = 0;
  virtual void Output(int id, std::string_view line) = 0;
  virtual void Cached(int id) = 0;
  virtual void Done(int id) = 0;
  virtual void Failed(int id, const std::string& why) = 0;
  // Free-form notes ("pulling 127.0.0.1:5000/busybox").
  virtual void Note(const std::string& text) = 0;
  virtual void Finish() {}
};

// Discards everything (tests, --quiet).
class NullProgress : public Progress {
 public:
  int Begin(const std::string&) override { return ++n_; }
  void Output(int, std::string_view) override {}
  void Cached(int) override {}
  void Done(int) override {}
  void Failed(int, const std::string&) override {}
  void Note(const std::string&) override {}
 private:
  int n_ = 0;
};

// --progress=plain (also the TTY mode's fallback): one line per event on `out`.
// With `live` (a terminal) a step's output is condensed: only the last lines
// are shown under a running step, redrawn in place.
class StreamProgress : public Progress {
 public:
  StreamProgress(std::FILE* out, bool live);
  int Begin(const std::string& label) override;
  void Output(int id, std::string_view line) override;
  void Cached(int id) override;
  void Done(int id) override;
  void Failed(int id, const std::string& why) override;
  void Note(const std::string& text) override;
  void Finish() override;

 private:
  struct Step {
    std::string label;
    std::chrono::steady_clock::time_point start;
    std::vector<std::string> tail;
  };
  double Seconds(const Step& s) const;
  void ClearLive();
  void DrawLive();
  std::FILE* out_;
  bool live_;
  std::mutex mu_;
  int next_ = 0;
  std::map<int, Step> running_;
  int live_lines_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace kiln::builder
