#include "builder/config_apply.h"

#include <gtest/gtest.h>

#include "frontend/instructions.h"

namespace kiln::builder {
namespace {

frontend::Instruction Inst(frontend::Command c, const std::string& kw) {
  frontend::Instruction i;
  i.command = std::move(c);
  i.keyword = kw;
  i.location.line = 3;
  return i;
}

TEST(ConfigApply, EnvSetsAndReplacesInOrder) {
  oci::ImageConfig c;
  c.config.env = {"PATH=/bin", "A=0"};
  ConfigScope scope;
  ApplyConfigInstruction(c, scope, Inst(frontend::EnvCmd{{{"A", "1", ""}, {"B", "two words", ""}}}, "ENV"), "T");
  EXPECT_EQ(c.config.env, (std::vector<std::string>{"PATH=/bin", "A=1", "B=two words"}));
  ASSERT_EQ(c.history.size(), 1u);
  EXPECT_EQ(c.history[0].created_by, "ENV A=1 B=two words");
  EXPECT_TRUE(c.history[0].empty_layer);
  EXPECT_EQ(c.history[0].created, "T");
  EXPECT_EQ(c.history[0].comment, "buildkit.dockerfile.v0");
}

TEST(ConfigApply, ShellFormCmdIsWrappedInShell) {
  oci::ImageConfig c;
  ConfigScope scope;
  ApplyConfigInstruction(c, scope, Inst(frontend::CmdCmd{{"echo hi"}, true}, "CMD"), "T");
  EXPECT_EQ(*c.config.cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(c.history.back().created_by, "CMD [\"/bin/sh\" \"-c\" \"echo hi\"]");
  ApplyConfigInstruction(c, scope, Inst(frontend::ShellCmd{{"/bin/bash", "-eo", "pipefail", "-c"}}, "SHELL"), "T");
  EXPECT_EQ(c.history.back().created_by, "SHELL [/bin/bash -eo pipefail -c]");
  ApplyConfigInstruction(c, scope, Inst(frontend::CmdCmd{{"make"}, true}, "CMD"), "T");
  EXPECT_EQ(*c.config.cmd, (std::vector<std::string>{"/bin/bash", "-eo", "pipefail", "-c", "make"}));
}

TEST(ConfigApply, EntrypointResetsInheritedCmdButKeepsOwn) {
  oci::ImageConfig base;
  base.config.cmd = std::vector<std::string>{"sh"};
  {
    oci::ImageConfig c = base;
    ConfigScope scope;
    ApplyConfigInstruction(c, scope, Inst(frontend::EntrypointCmd{{"/app"}, false}, "ENTRYPOINT"), "T");
    EXPECT_FALSE(c.config.cmd.has_value());
    EXPECT_EQ(*c.config.entrypoint, std::vector<std::string>{"/app"});
    EXPECT_EQ(c.history.back().created_by, "ENTRYPOINT [\"/app\"]");
  }
  {
    oci::ImageConfig c = base;
    ConfigScope scope;
    ApplyConfigInstruction(c, scope, Inst(frontend::CmdCmd{{"--help"}, false}, "CMD"), "T");
    ApplyConfigInstruction(c, scope, Inst(frontend::EntrypointCmd{{"/app"}, false}, "ENTRYPOINT"), "T");
    ASSERT_TRUE(c.config.cmd.has_value());
    EXPECT_EQ(*c.config.cmd, std::vector<std::string>{"--help"});
  }
}

TEST(ConfigApply, ExposeNormalisesPortsAndRejectsBadOnes) {
  oci::ImageConfig c;
  ConfigScope scope;
  ApplyConfigInstruction(c, scope, Inst(frontend::ExposeCmd{{"80", "53/udp", "8000-8001"}}, "EXPOSE"), "T");
  EXPECT_EQ(c.config.exposed_ports, (std::set<std::string>{"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}));
  EXPECT_EQ(c.history.back().created_by, "EXPOSE 80 53/udp 8000-8001");
  EXPECT_THROW(ApplyConfigInstruction(c, scope, Inst(frontend::ExposeCmd{{"http"}}, "EXPOSE"), "T"),
               frontend::Error);
}

TEST(ConfigApply, WorkdirUserLabelVolumeStopsignal) {
  oci::ImageConfig c;
  ConfigScope scope;
  ApplyConfigInstruction(c, scope, Inst(frontend::WorkdirCmd{"/app"}, "WORKDIR"), "T");
  ApplyConfigInstruction(c, scope, Inst(frontend::WorkdirCmd{"sub/../src"}, "WORKDIR"), "T");
  EXPECT_EQ(c.config.working_dir, "/app/src");
  EXPECT_EQ(c.history.back().created_by, "WORKDIR /app/src");
  ApplyConfigInstruction(c, scope, Inst(frontend::UserCmd{"1000:1000"}, "USER"), "T");
  EXPECT_EQ(c.config.user, "1000:1000");
  ApplyConfigInstruction(c, scope, Inst(frontend::LabelCmd{{{"a", "b", ""}}}, "LABEL"), "T");
  EXPECT_EQ(c.config.labels.at("a"), "b");
  EXPECT_EQ(c.history.back().created_by, "LABEL a=b");
  ApplyConfigInstruction(c, scope, Inst(frontend::VolumeCmd{{"/data"}}, "VOLUME"), "T");
  EXPECT_EQ(c.history.back().created_by, "VOLUME [\"/data\"]");
  ApplyConfigInstruction(c, scope, Inst(frontend::StopsignalCmd{"SIGINT"}, "STOPSIGNAL"), "T");
  EXPECT_EQ(c.config.stop_signal, "SIGINT");
  EXPECT_EQ(c.history.size(), 6u);
}

TEST(ConfigApply, RunAndCopyHistoryTextsMatchBuildKit) {
  EXPECT_EQ(RunCreatedBy({"/bin/sh", "-c", "make all"}, {}), "RUN /bin/sh -c make all # buildkit");
  EXPECT_EQ(RunCreatedBy({"/bin/sh", "-c", "make"}, {"A=1", "B=2"}), "RUN |2 A=1 B=2 /bin/sh -c make # buildkit");
  frontend::CopyCmd cp;
  cp.sources = {"a.txt", "b/"};
  cp.dest = "/dst/";
  EXPECT_EQ(CopyCreatedBy(cp), "COPY a.txt b/ /dst/ # buildkit");
  cp.is_add = true;
  EXPECT_EQ(CopyCreatedBy(cp), "ADD a.txt b/ /dst/ # buildkit");
}

TEST(ConfigApply, GoQuoteEscapes) {
  EXPECT_EQ(GoQuoteList({"a\"b", "c\\d", "e\nf"}), "[\"a\\\"b\" \"c\\\\d\" \"e\\nf\"]");
  EXPECT_EQ(GoQuoteList({}), "[]");
}

TEST(ConfigApply, ScratchHasDefaultPath) {
  auto c = ScratchConfig(oci::Platform::Host());
  ASSERT_EQ(c.config.env.size(), 1u);
  EXPECT_EQ(c.config.env[0], std::string("PATH=") + kDefaultPath);
}

}  // namespace
}  // namespace kiln::builder
