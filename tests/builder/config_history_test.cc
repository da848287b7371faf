// Config application for the instructions config_apply_test.cc leaves out:
// each one's effect on the config and the history line it records.
#include <gtest/gtest.h>

#include "builder/config_apply.h"
#include "frontend/error.h"
#include "frontend/instructions.h"

// Named so that unity batches of tests do not mix helpers of the same name.
namespace kiln::builder::config_history_test {
namespace {

frontend::Instruction Inst(frontend::Command c, const std::string& kw) {
  frontend::Instruction i;
  i.command = std::move(c);
  i.keyword = kw;
  i.location.line = 7;
  return i;
}

// Applies one instruction to `c` and returns the history line it recorded.
std::string Apply(oci::ImageConfig& c, frontend::Command cmd, const std::string& kw) {
  ConfigScope scope;
  const size_t before = c.history.size();
  ApplyConfigInstruction(c, scope, Inst(std::move(cmd), kw), "2024-01-01T00:00:00Z");
  EXPECT_EQ(c.history.size(), before + 1) << kw << " records exactly one history entry";
  const oci::History& h = c.history.back();
  EXPECT_TRUE(h.empty_layer) << kw;
  EXPECT_EQ(h.comment, kHistoryComment) << kw;
  EXPECT_EQ(h.created, "2024-01-01T00:00:00Z") << kw;
  return h.created_by;
}

TEST(ConfigHistory, ArgRecordsHistoryOnly) {
  oci::ImageConfig c;
  const oci::ImageConfig before = c;
  frontend::ArgCmd arg;
  arg.args = {{"A", std::string("1"), std::string("1")}, {"B", std::nullopt, std::nullopt}};
  EXPECT_EQ(Apply(c, arg, "ARG"), "ARG A=1 B");
  EXPECT_EQ(c.config.env, before.config.env);
}

TEST(ConfigHistory, MaintainerSetsAuthor) {
  oci::ImageConfig c;
  EXPECT_EQ(Apply(c, frontend::MaintainerCmd{"Jo <jo@example.org>"}, "MAINTAINER"), "MAINTAINER Jo <jo@example.org>");
  EXPECT_EQ(c.author, "Jo <jo@example.org>");
}

TEST(ConfigHistory, OnbuildAppendsTriggersInOrder) {
  oci::ImageConfig c;
  EXPECT_EQ(Apply(c, frontend::OnbuildCmd{"RUN make"}, "ONBUILD"), "ONBUILD RUN make");
  Apply(c, frontend::OnbuildCmd{"COPY . /src"}, "ONBUILD");
  EXPECT_EQ(c.config.on_build, (std::vector<std::string>{"RUN make", "COPY . /src"}));
}

TEST(ConfigHistory, HealthcheckWithDurations) {
  oci::ImageConfig c;
  frontend::HealthcheckCmd hc;
  hc.test = {"CMD-SHELL", "curl -f http://localhost/"};
  hc.interval_ns = 30'000'000'000LL;
  hc.timeout_ns = 500'000'000LL;
  hc.retries = 3;
  EXPECT_EQ(Apply(c, hc, "HEALTHCHECK"),
            "HEALTHCHECK [\"CMD-SHELL\" \"curl -f http://localhost/\"] interval=30s timeout=500ms retries=3");
  ASSERT_TRUE(c.config.healthcheck.has_value());
  EXPECT_EQ(c.config.healthcheck->test, hc.test);
  EXPECT_EQ(c.config.healthcheck->interval, 30'000'000'000LL);
  EXPECT_EQ(c.config.healthcheck->timeout, 500'000'000LL);
  EXPECT_EQ(c.config.healthcheck->start_period, 0);
  EXPECT_EQ(c.config.healthcheck->retries, 3);
}

TEST(ConfigHistory, HealthcheckNoneDisablesTheInheritedOne) {
  oci::ImageConfig c;
  frontend::HealthcheckCmd hc;
  hc.test = {"CMD", "true"};
  Apply(c, hc, "HEALTHCHECK");
  frontend::HealthcheckCmd none;
  none.none = true;
  EXPECT_EQ(Apply(c, none, "HEALTHCHECK"), "HEALTHCHECK [\"NONE\"]");
  ASSERT_TRUE(c.config.healthcheck.has_value());
  EXPECT_EQ(c.config.healthcheck->test, std::vector<std::string>{"NONE"});
}

TEST(ConfigHistory, ShellFormEntrypointUsesTheImageShell) {
  oci::ImageConfig c;
  c.config.shell = {"/bin/bash", "-c"};
  EXPECT_EQ(Apply(c, frontend::EntrypointCmd{{"exec app"}, true}, "ENTRYPOINT"),
            "ENTRYPOINT [\"/bin/bash\" \"-c\" \"exec app\"]");
  EXPECT_EQ(*c.config.entrypoint, (std::vector<std::string>{"/bin/bash", "-c", "exec app"}));
}

TEST(ConfigHistory, LabelsAndEnvOverrideEarlierValues) {
  oci::ImageConfig c;
  Apply(c, frontend::LabelCmd{{{"v", "1", ""}}}, "LABEL");
  EXPECT_EQ(Apply(c, frontend::LabelCmd{{{"v", "2", ""}, {"w", "x y", ""}}}, "LABEL"), "LABEL v=2 w=x y");
  EXPECT_EQ(c.config.labels, (std::map<std::string, std::string>{{"v", "2"}, {"w", "x y"}}));
}

TEST(ConfigHistory, VolumeAndExposeAccumulate) {
  oci::ImageConfig c;
  Apply(c, frontend::VolumeCmd{{"/a"}}, "VOLUME");
  EXPECT_EQ(Apply(c, frontend::VolumeCmd{{"/b", "/c d"}}, "VOLUME"), "VOLUME [\"/b\" \"/c d\"]");
  EXPECT_EQ(c.config.volumes, (std::set<std::string>{"/a", "/b", "/c d"}));
  Apply(c, frontend::ExposeCmd{{"80"}}, "EXPOSE");
  Apply(c, frontend::ExposeCmd{{"80/tcp", "9/sctp"}}, "EXPOSE");
  EXPECT_EQ(c.config.exposed_ports, (std::set<std::string>{"80/tcp", "9/sctp"}));
}

TEST(ConfigHistory, ExposeErrorsNameTheLine) {
  oci::ImageConfig c;
  ConfigScope scope;
  for (const char* bad : {"70000", "80/icmp", "90-80", "-1"}) {
    try {
      ApplyConfigInstruction(c, scope, Inst(frontend::ExposeCmd{{bad}}, "EXPOSE"), "T");
      ADD_FAILURE() << bad << " accepted";
    } catch (const frontend::Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
      EXPECT_EQ(e.where().line, 7) << bad;
    }
  }
  EXPECT_TRUE(c.history.empty()) << "a rejected instruction records nothing";
}

TEST(ConfigHistory, LayerInstructionsAreNotConfigOnly) {
  EXPECT_FALSE(IsConfigOnly(Inst(frontend::RunCmd{}, "RUN")));
  EXPECT_FALSE(IsConfigOnly(Inst(frontend::CopyCmd{}, "COPY")));
  EXPECT_FALSE(IsConfigOnly(Inst(frontend::FromCmd{}, "FROM")));
  EXPECT_TRUE(IsConfigOnly(Inst(frontend::UserCmd{"1"}, "USER")));
  EXPECT_TRUE(IsConfigOnly(Inst(frontend::ArgCmd{}, "ARG")));
  oci::ImageConfig c;
  ConfigScope scope;
  EXPECT_THROW(ApplyConfigInstruction(c, scope, Inst(frontend::RunCmd{}, "RUN"), "T"), frontend::Error);
}

TEST(ConfigHistory, FindEnvAndJoinWorkdir) {
  std::string storage;
  const std::vector<std::string> env{"AB=1", "A=2", "E="};
  ASSERT_NE(FindEnv(env, "A", &storage), nullptr);
  EXPECT_EQ(storage, "2") << "A does not match AB";
  ASSERT_NE(FindEnv(env, "E", &storage), nullptr);
  EXPECT_EQ(storage, "");
  EXPECT_EQ(FindEnv(env, "B", &storage), nullptr);
  EXPECT_EQ(JoinWorkdir("/a/b", ".."), "/a");
  EXPECT_EQ(JoinWorkdir("/a", "/x/"), "/x");
  EXPECT_EQ(JoinWorkdir("/", "../.."), "/");
}

}  // namespace
}  // namespace kiln::builder::config_history_test
