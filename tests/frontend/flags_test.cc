#include "frontend/flags.h"

#include <gtest/gtest.h>

namespace kiln::frontend {
namespace {

Location L() { return Location{"Dockerfile", 3, 0, 3}; }

TEST(Flags, PerInstructionTables) {
  auto names = [](std::string_view kw) {
    std::vector<std::string> out;
    for (const auto& f : FlagsFor(kw)) out.push_back(f.name);
    return out;
  };
  EXPECT_EQ(names("COPY"),
            (std::vector<std::string>{"from", "chown", "chmod", "link", "parents", "exclude"}));
  EXPECT_EQ(names("RUN"), (std::vector<std::string>{"mount", "network", "security"}));
  EXPECT_EQ(names("FROM"), std::vector<std::string>{"platform"});
  EXPECT_TRUE(names("ENV").empty());
  EXPECT_EQ(names("HEALTHCHECK").size(), 5u);
}

TEST(Flags, ParsesKindsAndValues) {
  auto f = ParseFlags("COPY", {"--from=build", "--link", "--parents=false", "--exclude=a",
                               "--exclude=b", "--CHOWN=1:1"}, L());
  EXPECT_EQ(f.Get("from"), "build");
  EXPECT_TRUE(f.GetBool("link"));
  EXPECT_TRUE(f.Has("parents"));
  EXPECT_FALSE(f.GetBool("parents"));
  EXPECT_EQ(f.GetAll("exclude"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.Get("chown"), "1:1");
  EXPECT_EQ(f.Get("chmod", "none"), "none");
  // An empty value is still a value (BuildKit: --from= is "set to empty").
  EXPECT_TRUE(ParseFlags("COPY", {"--chmod="}, L()).Has("chmod"));
}

TEST(Flags, Errors) {
  auto message = [](std::string_view kw, std::vector<std::string> flags) {
    try {
      ParseFlags(kw, flags, L());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(message("COPY", {"--chmown=1"}), "Dockerfile:3: unknown flag --chmown for COPY (did you mean --chown?)");
  EXPECT_EQ(message("RUN", {"--platform=x"}), "Dockerfile:3: flag --platform is not valid for RUN (it is a flag of FROM)");
  EXPECT_EQ(message("WORKDIR", {"--chown=1"}), "Dockerfile:3: flag --chown is not valid for WORKDIR (it is a flag of ADD, COPY)");
  EXPECT_EQ(message("RUN", {"--network"}), "Dockerfile:3: missing a value on flag --network");
  EXPECT_EQ(message("RUN", {"--network=a", "--network=b"}), "Dockerfile:3: duplicate flag specified: --network");
  EXPECT_EQ(message("ADD", {"--link=yes"}), "Dockerfile:3: expecting boolean value for flag --link, not: yes");
  EXPECT_EQ(message("ADD", {"--"}), "Dockerfile:3: invalid flag \"--\" on ADD");
}

TEST(Flags, MountDefaultsPerType) {
  MountSpec bind = ParseMount("target=/src");
  EXPECT_EQ(bind.type, "bind");
  EXPECT_TRUE(bind.readonly);
  MountSpec rw = ParseMount("type=bind,source=/a,target=/b,from=build,rw");
  EXPECT_FALSE(rw.readonly);
  EXPECT_EQ(rw.source, "/a");
  EXPECT_EQ(rw.from, "build");
  MountSpec cache = ParseMount("type=cache,dst=/root/.cache,id=go,sharing=locked,mode=0755,uid=1000,gid=1000");
  EXPECT_FALSE(cache.readonly);
  EXPECT_EQ(cache.target, "/root/.cache");
  EXPECT_EQ(cache.id, "go");
  EXPECT_EQ(cache.sharing, "locked");
  EXPECT_EQ(cache.mode.value_or(0), 0755u);
  EXPECT_EQ(cache.uid.value_or(0), 1000u);
  MountSpec tmpfs = ParseMount("type=tmpfs,destination=/tmp,size=64m");
  EXPECT_EQ(tmpfs.size.value_or(0), 64ull << 20);
  EXPECT_FALSE(tmpfs.readonly);
  MountSpec secret = ParseMount("type=secret,id=aws,required");
  EXPECT_EQ(secret.target, "/run/secrets/aws");
  EXPECT_TRUE(secret.required);
  EXPECT_TRUE(secret.readonly);
  MountSpec by_target = ParseMount("type=secret,target=/etc/token,required=false");
  EXPECT_EQ(by_target.id, "token");
  EXPECT_FALSE(by_target.required);
  MountSpec env = ParseMount("type=secret,id=tok,env=TOKEN");
  EXPECT_EQ(env.env, "TOKEN");
  EXPECT_TRUE(env.target.empty());
  MountSpec ssh = ParseMount("type=ssh");
  EXPECT_EQ(ssh.id, "default");
  MountSpec ro = ParseMount("type=cache,target=/x,readonly=true");
  EXPECT_TRUE(ro.readonly);
}

TEST(Flags, MountCsvQuoting) {
  MountSpec m = ParseMount("type=bind,\"target=/a,b\",\"source=x\"\"y\"");
  EXPECT_EQ(m.target, "/a,b");
  EXPECT_EQ(m.source, "x\"y");
}

TEST(Flags, MountErrors) {
  EXPECT_THROW(ParseMount("type=nfs,target=/x"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=cache,target=/x,sharing=wide"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=bind,target=/x,mode=0644"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=cache,target=/x,mode=9"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=cache,target=/x,uid=-1"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=bind,target=/x,bogus=1"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=bind,target=/x,required"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=bind,target=/x,size=1m"), std::runtime_error);
  // No target: BuildKit mounts at the WORKDIR (real Dockerfiles rely on it).
  EXPECT_TRUE(ParseMount("from=binaries").target.empty());
  EXPECT_THROW(ParseMount("type=secret,id=a,from=b"), std::runtime_error);
  EXPECT_THROW(ParseMount("type=bind,\"target=/x"), std::runtime_error);
}

TEST(Flags, MountExpansionIsDeferredForNumbers) {
  MountSpec raw = ParseMount("type=cache,target=/c,uid=$UID");
  EXPECT_FALSE(raw.uid.has_value());
  WordExpander expand = [](const std::string& w) { return w == "$UID" ? std::string("42") : w; };
  EXPECT_EQ(ParseMount("type=cache,target=/c,uid=$UID", &expand).uid.value_or(0), 42u);
}

TEST(Flags, GoDurations) {
  EXPECT_EQ(ParseGoDuration("0"), 0);
  EXPECT_EQ(ParseGoDuration("30s"), 30'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("1m30s"), 90'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("1.5h"), 5'400'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("300ms"), 300'000'000LL);
  EXPECT_EQ(ParseGoDuration("2us"), 2'000LL);
  EXPECT_EQ(ParseGoDuration("-1s"), -1'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("1h2m3s4ms5us6ns"), 3'723'004'005'006LL);
  EXPECT_THROW(ParseGoDuration(""), std::runtime_error);
  EXPECT_THROW(ParseGoDuration("10"), std::runtime_error);  // Go requires a unit
  EXPECT_THROW(ParseGoDuration("1d"), std::runtime_error);
  EXPECT_THROW(ParseGoDuration("s"), std::runtime_error);
  EXPECT_THROW(ParseGoDuration("1..5s"), std::runtime_error);
  EXPECT_EQ(ParseHealthcheckDuration("interval", "0s"), 0);
  EXPECT_EQ(ParseHealthcheckDuration("interval", "1ms"), 1'000'000LL);
  EXPECT_THROW(ParseHealthcheckDuration("interval", "999us"), std::runtime_error);
  EXPECT_THROW(ParseHealthcheckDuration("interval", "-5s"), std::runtime_error);
}

TEST(Flags, ByteSizes) {
  EXPECT_EQ(ParseByteSize("512"), 512u);
  EXPECT_EQ(ParseByteSize("1k"), 1024u);
  EXPECT_EQ(ParseByteSize("64m"), 64ull << 20);
  EXPECT_EQ(ParseByteSize("1GiB"), 1ull << 30);
  EXPECT_EQ(ParseByteSize("1.5g"), 3ull << 29);
  EXPECT_EQ(ParseByteSize("2 MB"), 2ull << 20);
  EXPECT_THROW(ParseByteSize("lots"), std::runtime_error);
  EXPECT_THROW(ParseByteSize("1x"), std::runtime_error);
}

}  // namespace
}  // namespace kiln::frontend
