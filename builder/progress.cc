#include "builder/progress.h"

#include <algorithm>

namespace kiln::builder {

namespace {
constexpr size_t kLiveTail = 5;  // output lines shown under a running step on a TTY
constexpr size_t kMaxWidth = 120;

std::string Clip(std::string_view s) {
  std::string out(s.substr(0, kMaxWidth));
  for (char& c : out)
    if (c == '\r' || c == '\t') c = ' ';
  return out;
}
}  // namespace

StreamProgress::StreamProgress(std::FILE* out, bool live) : out_(out), live_(live) {}

double StreamProgress::Seconds(const Step& s) const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
}

void StreamProgress::ClearLive() {
  if (!live_ || live_lines_ == 0) return;
  // Move up over the redrawn block and clear it.
  std::fprintf(out_, "\x1b[%dA\x1b[J", live_lines_);
  live_lines_ = 0;
}

void StreamProgress::DrawLive() {
  if (!live_) return;
  for (const auto& [id, s] : running_) {
    std::fprintf(out_, "\x1b[1;34m=> #%d %s\x1b[0m %.1fs\n", id, Clip(s.label).c_str(), Seconds(s));
    ++live_lines_;
    for (const auto& l : s.tail) {
      std::fprintf(out_, "\x1b[2m   %s\x1b[0m\n", Clip(l).c_str());
      ++live_lines_;
    }
  }
  std::fflush(out_);
}

int StreamProgress::Begin(const std::string& label) {
  std::lock_guard lock(mu_);
  int id = ++next_;
  running_[id] = Step{label, std::chrono::steady_clock::now(), {}};
  if (live_) {
    ClearLive();
    DrawLive();
  } else {
    std::fprintf(out_, "#%d %s\n", id, label.c_str());
    std::fflush(out_);
  }
  return id;
}

void StreamProgress::Output(int id, std::string_view line) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  if (live_) {
    it->second.tail.emplace_back(line);
    if (it->second.tail.size() > kLiveTail) it->second.tail.erase(it->second.tail.begin());
    ClearLive();
    DrawLive();
  } else {
    std::fprintf(out_, "#%d %.3f %.*s\n", id, Seconds(it->second), int(line.size()), line.data());
    std::fflush(out_);
  }
}

void StreamProgress::Cached(int id) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  ClearLive();
  if (live_) std::fprintf(out_, "=> CACHED #%d %s\n", id, Clip(it->second.label).c_str());
  else std::fprintf(out_, "#%d CACHED\n", id);
  running_.erase(it);
  DrawLive();
  std::fflush(out_);
}

void StreamProgress::Done(int id) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  ClearLive();
  if (live_) std::fprintf(out_, "=> #%d %s %.1fs\n", id, Clip(it->second.label).c_str(), Seconds(it->second));
  else std::fprintf(out_, "#%d DONE %.1fs\n", id, Seconds(it->second));
  running_.erase(it);
  DrawLive();
  std::fflush(out_);
}

void StreamProgress::Failed(int id, const std::string& why) {
  std::lock_guard lock(mu_);
  auto it = running_.find(id);
  if (it == running_.end()) return;
  ClearLive();
  if (live_) std::fprintf(out_, "=> ERROR #%d %s: %s\n", id, Clip(it->second.label).c_str(), why.c_str());
  else std::fprintf(out_, "#%d ERROR: %s\n", id, why.c_str());
  running_.erase(it);
  DrawLive();
  std::fflush(out_);
}

void StreamProgress::Note(const std::string& text) {
  std::lock_guard lock(mu_);
  ClearLive();
  std::fprintf(out_, "%s%s\n", live_ ? "=> " : "#0 ", text.c_str());
  DrawLive();
  std::fflush(out_);
}

void StreamProgress::Finish() {
  std::lock_guard lock(mu_);
  ClearLive();
  std::fflush(out_);
}

}  // namespace kiln::builder
