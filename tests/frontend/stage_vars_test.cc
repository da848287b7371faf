// Docker's ARG/ENV scoping rules, with the cases from docker's reference
// ("Scope", "Using ARG variables", "Predefined ARGs") and BuildKit's
// dockerfile_test.go.
#include "frontend/expand.h"
#include "frontend/stage_vars.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace kiln::frontend {
namespace {

BuildArgs Args(std::map<std::string, std::string> values = {},
               std::map<std::string, std::string> predefined = {}) {
  BuildArgs a;
  a.values = std::move(values);
  a.predefined = std::move(predefined);
  return a;
}

// Walks stage `stage` like the builder does and returns what each USER
// instruction expands to (USER is a convenient probe: one expanded word).
std::vector<std::string> Probe(const std::string& text, const BuildArgs& args, size_t stage = 0,
                               std::vector<std::string> base_env = {},
                               StageVars* out = nullptr) {
  Dockerfile df = ParseDockerfile(text);
  StageVars vars(args, ResolveGlobalArgs(df, args), df.escape);
  vars.SetBaseEnv(base_env);
  std::vector<std::string> users;
  for (const Instruction& in : df.stages.at(stage).instructions) {
    Instruction e = Expand(in, vars.ForExpansion(), df.escape);
    if (auto* u = std::get_if<UserCmd>(&e.command)) users.push_back(u->user);
    vars.Apply(in);
  }
  if (out) *out = vars;
  return users;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(StageVars, ArgIsVisibleOnlyAfterItsDeclaration) {
  const std::string df =
      "FROM busybox\n"
      "USER ${username:-some_user}\n"
      "ARG username\n"
      "USER $username\n";
  EXPECT_EQ(Probe(df, Args({{"username", "what_user"}})),
            (std::vector<std::string>{"some_user", "what_user"}));
  // Declared without a default and no --build-arg: still unset.
  EXPECT_EQ(Probe(df, Args()), (std::vector<std::string>{"some_user", ""}));
}

TEST(StageVars, EnvAlwaysOverridesArg) {
  const std::string df =
      "FROM ubuntu\n"
      "ARG CONT_IMG_VER\n"
      "ENV CONT_IMG_VER=v1.0.0\n"
      "USER $CONT_IMG_VER\n";
  EXPECT_EQ(Probe(df, Args({{"CONT_IMG_VER", "v2.0.1"}})), std::vector<std::string>{"v1.0.0"});
  // Even when the ARG is (re)declared after the ENV.
  EXPECT_EQ(Probe("FROM u\nENV V=env\nARG V=arg\nUSER $V\n", Args({{"V", "cli"}})),
            std::vector<std::string>{"env"});
  // And an ENV inherited from the base image shadows an ARG too.
  EXPECT_EQ(Probe("FROM u\nARG PATH=/argpath\nUSER $PATH\n", Args(), 0, {"PATH=/usr/bin"}),
            std::vector<std::string>{"/usr/bin"});
}

TEST(StageVars, EnvDefaultFromArg) {
  const std::string df =
      "FROM ubuntu\n"
      "ARG CONT_IMG_VER\n"
      "ENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n"
      "USER $CONT_IMG_VER\n";
  EXPECT_EQ(Probe(df, Args()), std::vector<std::string>{"v1.0.0"});
  EXPECT_EQ(Probe(df, Args({{"CONT_IMG_VER", "v2.0.2"}})), std::vector<std::string>{"v2.0.2"});
}

TEST(StageVars, GlobalArgNeedsRedeclarationInsideAStage) {
  const std::string df =
      "ARG VERSION=latest\n"
      "FROM busybox:$VERSION\n"
      "USER v${VERSION}\n"
      "ARG VERSION\n"
      "USER v${VERSION}\n";
  EXPECT_EQ(Probe(df, Args()), (std::vector<std::string>{"v", "vlatest"}));
  EXPECT_EQ(Probe(df, Args({{"VERSION", "1.2"}})), (std::vector<std::string>{"v", "v1.2"}));
  // A stage default beats the global one; --build-arg beats both.
  const std::string own = "ARG V=global\nFROM a\nARG V=stage\nUSER $V\n";
  EXPECT_EQ(Probe(own, Args()), std::vector<std::string>{"stage"});
  EXPECT_EQ(Probe(own, Args({{"V", "cli"}})), std::vector<std::string>{"cli"});
}

TEST(StageVars, GlobalDefaultsChainAndTakeBuildArgs) {
  Dockerfile df = ParseDockerfile("ARG A=1\nARG B=${A}2 C\nARG A\nFROM x\n");
  GlobalArgs g = ResolveGlobalArgs(df, Args());
  EXPECT_EQ(g.order, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(g.values["A"].value_or("?"), "1");  // bare redeclaration keeps the value
  EXPECT_EQ(g.values["B"].value_or("?"), "12");
  EXPECT_FALSE(g.values["C"].has_value());
  GlobalArgs o = ResolveGlobalArgs(df, Args({{"A", "9"}}));
  EXPECT_EQ(o.values["B"].value_or("?"), "92");
}

TEST(StageVars, ArgsDoNotLeakBetweenStages) {
  const std::string df =
      "FROM a AS one\n"
      "ARG X=1\n"
      "ENV E=e\n"
      "FROM a AS two\n"
      "USER x${X}y${E}\n";
  EXPECT_EQ(Probe(df, Args(), 1), std::vector<std::string>{"xy"});
}

TEST(StageVars, EnvPairsSeeTheStateBeforeTheInstruction) {
  const std::string df =
      "FROM a\n"
      "ENV abc=hello\n"
      "ENV abc=bye def=$abc\n"
      "ENV ghi=$abc\n"
      "USER $def:$ghi\n";
  EXPECT_EQ(Probe(df, Args()), std::vector<std::string>{"hello:bye"});
}

TEST(StageVars, ArgDefaultsExpandOneByOne) {
  EXPECT_EQ(Probe("FROM a\nARG A=1 B=${A}0\nUSER $B\n", Args()), std::vector<std::string>{"10"});
}

TEST(StageVars, QuotedEnvValuesStayLiteral) {
  EXPECT_EQ(Probe("FROM a\nARG X=x\nENV A='$X' B=\"$X y\"\nUSER $A-$B\n", Args()),
            std::vector<std::string>{"$X-x y"});
}

TEST(StageVars, PredefinedPlatformArgsNeedDeclarationInsideStage) {
  BuildArgs args = Args({}, {{"TARGETARCH", "arm64"}, {"TARGETPLATFORM", "linux/arm64"}});
  EXPECT_EQ(Probe("FROM a\nUSER x$TARGETARCH\nARG TARGETARCH\nUSER x$TARGETARCH\n", args),
            (std::vector<std::string>{"x", "xarm64"}));
  // ...but FROM lines see them without one.
  Dockerfile df = ParseDockerfile("FROM a\n");
  VarMap from = FromLineVars(ResolveGlobalArgs(df, args), args);
  EXPECT_EQ(from["TARGETPLATFORM"], "linux/arm64");
}

TEST(StageVars, RunEnvConfigEnvAndHistory) {
  BuildArgs args = Args({{"TOKEN", "t"}}, {{"HTTP_PROXY", "http://proxy:3128"}, {"TARGETOS", "linux"}});
  StageVars vars(args, GlobalArgs{}, '\\');
  Probe("FROM a\nARG TOKEN\nARG EMPTY\nENV PATH=/x:$PATH LANG=C\n", args, 0, {"PATH=/bin", "HOME=/root"},
        &vars);
  EXPECT_EQ(vars.ConfigEnv(), (std::vector<std::string>{"PATH=/x:/bin", "HOME=/root", "LANG=C"}));
  std::vector<std::string> run = vars.RunEnv();
  EXPECT_TRUE(Contains(run, "TOKEN=t"));
  EXPECT_TRUE(Contains(run, "PATH=/x:/bin"));
  EXPECT_TRUE(Contains(run, "HTTP_PROXY=http://proxy:3128"));  // undeclared, still passed to RUN
  EXPECT_FALSE(Contains(run, "TARGETOS=linux"));                // platform args need ARG
  EXPECT_FALSE(std::any_of(run.begin(), run.end(), [](const std::string& s) { return s.rfind("EMPTY", 0) == 0; }));
  auto expansion = vars.ForExpansion();
  EXPECT_FALSE(expansion.count("HTTP_PROXY"));
  auto history = vars.HistoryArgs();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].key, "TOKEN");
  EXPECT_EQ(vars.ConsumedBuildArgs(), std::set<std::string>{"TOKEN"});
}

TEST(StageVars, DeclaredProxyArgIsNotRecorded) {
  BuildArgs args = Args({{"https_proxy", "http://p"}});
  StageVars vars(args, GlobalArgs{}, '\\');
  Probe("FROM a\nARG https_proxy\n", args, 0, {}, &vars);
  EXPECT_TRUE(Contains(vars.RunEnv(), "https_proxy=http://p"));
  EXPECT_TRUE(vars.HistoryArgs().empty());
  EXPECT_TRUE(vars.ConfigEnv().empty());
}

TEST(StageVars, ExpansionErrorHasLocation) {
  Dockerfile df = ParseDockerfile("FROM a\nARG X=${NOPE:?required}\n");
  StageVars vars(Args(), GlobalArgs{}, '\\');
  try {
    vars.Apply(df.stages[0].instructions[0]);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().line, 2);
  }
}

}  // namespace
}  // namespace kiln::frontend
