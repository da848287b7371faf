// Shared helpers for the sandbox tests: a busybox rootfs (made once per test
// binary with scripts/make-busybox-rootfs.sh) used as an overlay lower, and
// a per-test upper/work/merged set. Tests run inside the build namespace
// that main_test.cc enters (as root, or re-executed in a user namespace).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "sandbox/isolation_level.h"
#include "sandbox/overlay.h"
#include "sandbox/run.h"
#include "sandbox/userns.h"

namespace kiln::sandbox::testing {

inline std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

inline std::string SourceDir() {
  if (const char* s = std::getenv("KILN_SOURCE_DIR")) return s;
  if (const char* d = std::getenv("KILN_TEST_DATA")) return std::string(d) + "/../..";
  return std::string(KILN_TEST_DATA) + "/../..";
}

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

// Sets the current isolation level for one test and puts the previous one back.
class IsolationScope {
 public:
  explicit IsolationScope(const Isolation& iso) : saved_(CurrentIsolation()) { SetCurrentIsolation(iso); }
  ~IsolationScope() { SetCurrentIsolation(saved_); }

 private:
  Isolation saved_;
};

// KILN_SNAPSHOTTER for the lifetime of the object (overlay, copy).
class SnapshotterEnv {
 public:
  explicit SnapshotterEnv(const char* value) { ::setenv("KILN_SNAPSHOTTER", value, 1); }
  ~SnapshotterEnv() { ::unsetenv("KILN_SNAPSHOTTER"); }
};

// The base rootfs, made once; removed at exit.
class BaseRootfs {
 public:
  static const std::string& Path() {
    static BaseRootfs base;
    return base.dir_;
  }
  ~BaseRootfs() {
    std::error_code ec;
    std::filesystem::remove_all(top_, ec);
  }

 private:
  BaseRootfs() {
    top_ = MakeTempDir("kiln-sbx-base");
    ::chmod(top_.c_str(), 0755);
    dir_ = top_ + "/rootfs";
    std::string cmd = "bash '" + SourceDir() + "/scripts/make-busybox-rootfs.sh' '" + dir_ + "' >/dev/null";
    if (std::system(cmd.c_str()) != 0) dir_.clear();
  }
  std::string top_, dir_;
};

// A writable step rootfs: base (or `lower`) as lower, fresh upper.
class StepRootfs {
 public:
  explicit StepRootfs(const std::string& lower = BaseRootfs::Path()) {
    top_ = MakeTempDir("kiln-sbx-step");
    for (const char* d : {"upper", "work", "merged"}) std::filesystem::create_directory(top_ + "/" + d);
    mount_.emplace(std::vector<std::filesystem::path>{lower}, upper(), top_ + "/work", merged());
  }
  ~StepRootfs() {
    mount_.reset();
    std::error_code ec;
    std::filesystem::remove_all(top_, ec);
  }
  std::string upper() const { return top_ + "/upper"; }
  std::string merged() const { return top_ + "/merged"; }
  std::string top() const { return top_; }

  RunSpec Spec(std::vector<std::string> argv) const {
    RunSpec spec;
    spec.rootfs = merged();
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
    return spec;
  }
  // Runs `sh -c script`, returns the output lines joined with '\n'.
  std::string Sh(const std::string& script, RunResult* result = nullptr, uint32_t uid = 0) const {
    RunSpec spec = Spec({"sh", "-c", script});
    spec.uid = spec.gid = uid;
    std::string out;
    spec.on_output = [&](std::string_view line) { out += std::string(line) + "\n"; };
    RunResult r = sandbox::Run(spec);
    if (result) *result = r;
    return out;
  }

 private:
  std::string top_;
  std::optional<OverlayMount> mount_;
};

#define KILN_REQUIRE_BASE()                                                        \
  do {                                                                             \
    if (::kiln::sandbox::testing::BaseRootfs::Path().empty())                      \
      GTEST_FAIL() << "could not make the busybox rootfs (busybox-static missing, or "   \
                   << ::kiln::sandbox::testing::SourceDir() << "/scripts unreadable?)"; \
  } while (0)

}  // namespace kiln::sandbox::testing
