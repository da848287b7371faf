#include "frontend/instructions.h"
#include "frontend/expand.h"

#include <gtest/gtest.h>

#include "frontend/flags.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {
namespace {

std::string ErrorOf(const std::string& text) {
  try {
    ParseDockerfile(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <typename T>
const T& Cmd(const Dockerfile& df, size_t stage, size_t i) {
  return std::get<T>(df.stages.at(stage).instructions.at(i).command);
}

TEST(Instructions, EveryInstructionIsTyped) {
  auto df = ParseDockerfile(
      "ARG BASE=alpine\n"
      "FROM --platform=linux/amd64 $BASE AS Build\n"
      "RUN echo hi\n"
      "CMD [\"a\", \"b\"]\n"
      "LABEL a=b c=\"d e\"\n"
      "MAINTAINER me <me@x>\n"
      "EXPOSE 80 443/udp\n"
      "ENV A=1 B=\"two words\"\n"
      "ADD --chown=1:2 --chmod=644 --link --keep-git-dir --checksum=sha256:ab src /dst\n"
      "COPY --from=other --parents --exclude=*.md --exclude=*.txt a b /dst/\n"
      "ENTRYPOINT /bin/sh\n"
      "VOLUME [\"/v1\", \"/v2\"]\n"
      "USER nobody\n"
      "WORKDIR /w\n"
      "ARG X Y=2\n"
      "ONBUILD RUN make\n"
      "STOPSIGNAL SIGTERM\n"
      "HEALTHCHECK --interval=1m30s --timeout=5s --start-period=0s --retries=3 CMD curl -f x\n"
      "SHELL [\"/bin/bash\", \"-c\"]\n");
  ASSERT_EQ(df.global_args.size(), 1u);
  EXPECT_EQ(df.global_args[0].args[0].name, "BASE");
  ASSERT_EQ(df.stages.size(), 1u);
  const Stage& s = df.stages[0];
  EXPECT_EQ(s.name, "build");
  EXPECT_EQ(s.from.image, "$BASE");
  EXPECT_EQ(s.from.platform, "linux/amd64");
  EXPECT_EQ(s.location.line, 2);
  ASSERT_EQ(s.instructions.size(), 17u);

  EXPECT_EQ(Cmd<RunCmd>(df, 0, 0).args, std::vector<std::string>{"echo hi"});
  EXPECT_TRUE(Cmd<RunCmd>(df, 0, 0).shell_form);
  EXPECT_EQ(Cmd<CmdCmd>(df, 0, 1).args, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(Cmd<CmdCmd>(df, 0, 1).shell_form);
  const auto& label = Cmd<LabelCmd>(df, 0, 2);
  ASSERT_EQ(label.labels.size(), 2u);
  EXPECT_EQ(label.labels[1].key, "c");
  EXPECT_EQ(label.labels[1].value, "d e");
  EXPECT_EQ(Cmd<MaintainerCmd>(df, 0, 3).name, "me <me@x>");
  EXPECT_EQ(Cmd<ExposeCmd>(df, 0, 4).ports, (std::vector<std::string>{"80", "443/udp"}));
  EXPECT_EQ(Cmd<EnvCmd>(df, 0, 5).vars[1].value, "two words");
  const auto& add = Cmd<CopyCmd>(df, 0, 6);
  EXPECT_TRUE(add.is_add);
  EXPECT_EQ(add.chown, "1:2");
  EXPECT_EQ(add.chmod, "644");
  EXPECT_TRUE(add.link);
  EXPECT_TRUE(add.keep_git_dir);
  EXPECT_TRUE(add.unpack_default);
  EXPECT_EQ(add.checksum, "sha256:ab");
  EXPECT_EQ(add.sources, std::vector<std::string>{"src"});
  EXPECT_EQ(add.dest, "/dst");
  const auto& copy = Cmd<CopyCmd>(df, 0, 7);
  EXPECT_FALSE(copy.is_add);
  EXPECT_FALSE(copy.unpack_default);
  EXPECT_EQ(copy.from, "other");
  EXPECT_TRUE(copy.parents);
  EXPECT_FALSE(copy.link);
  EXPECT_EQ(copy.excludes, (std::vector<std::string>{"*.md", "*.txt"}));
  EXPECT_EQ(copy.sources, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(Cmd<EntrypointCmd>(df, 0, 8).shell_form);
  EXPECT_EQ(Cmd<VolumeCmd>(df, 0, 9).paths, (std::vector<std::string>{"/v1", "/v2"}));
  EXPECT_EQ(Cmd<UserCmd>(df, 0, 10).user, "nobody");
  EXPECT_EQ(Cmd<WorkdirCmd>(df, 0, 11).path, "/w");
  const auto& arg = Cmd<ArgCmd>(df, 0, 12);
  ASSERT_EQ(arg.args.size(), 2u);
  EXPECT_EQ(arg.args[0].name, "X");
  EXPECT_FALSE(arg.args[0].value.has_value());
  EXPECT_EQ(arg.args[1].value.value_or(""), "2");
  EXPECT_EQ(Cmd<OnbuildCmd>(df, 0, 13).expression, "RUN make");
  EXPECT_EQ(Cmd<StopsignalCmd>(df, 0, 14).signal, "SIGTERM");
  const auto& hc = Cmd<HealthcheckCmd>(df, 0, 15);
  EXPECT_EQ(hc.test, (std::vector<std::string>{"CMD-SHELL", "curl -f x"}));
  EXPECT_EQ(hc.interval_ns.value_or(-1), 90'000'000'000LL);
  EXPECT_EQ(hc.timeout_ns.value_or(-1), 5'000'000'000LL);
  EXPECT_EQ(hc.start_period_ns.value_or(-1), 0);
  EXPECT_FALSE(hc.start_interval_ns.has_value());
  EXPECT_EQ(hc.retries.value_or(-1), 3);
  EXPECT_EQ(Cmd<ShellCmd>(df, 0, 16).args, (std::vector<std::string>{"/bin/bash", "-c"}));
  EXPECT_EQ(s.instructions[16].keyword, "SHELL");
  EXPECT_EQ(s.instructions[0].original, "RUN echo hi");
}

TEST(Instructions, LocationsSpanContinuations) {
  auto df = ParseDockerfile("FROM a\n\nRUN echo \\\n  one \\\n  two\nUSER x\n");
  const auto& run = df.stages[0].instructions[0];
  EXPECT_EQ(run.location.line, 3);
  EXPECT_EQ(run.location.end_line, 5);
  EXPECT_EQ(df.stages[0].instructions[1].location.line, 6);
  EXPECT_EQ(df.stages[0].instructions[1].location.end_line, 6);
}

TEST(Instructions, UnknownInstructionSuggests) {
  EXPECT_EQ(ErrorOf("FROM a\nCOPPY . /app\n"),
            "Dockerfile:2:1: unknown instruction \"COPPY\" (did you mean COPY?)");
  EXPECT_EQ(ErrorOf("FROM a\nFLOOB x\n"), "Dockerfile:2:1: unknown instruction \"FLOOB\"");
  EXPECT_EQ(ErrorOf("FROM a\nworkdri /x\n"),
            "Dockerfile:2:1: unknown instruction \"workdri\" (did you mean WORKDIR?)");
}

TEST(Instructions, FlagErrors) {
  EXPECT_EQ(ErrorOf("FROM a\nCOPY --form=x a b\n"),
            "Dockerfile:2:6: unknown flag --form for COPY (did you mean --from?)");
  EXPECT_EQ(ErrorOf("FROM a\nRUN --from=x true\n"),
            "Dockerfile:2:5: flag --from is not valid for RUN (it is a flag of COPY)");
  EXPECT_EQ(ErrorOf("FROM a\nADD --from=x a b\n"),
            "Dockerfile:2:5: flag --from is not valid for ADD (it is a flag of COPY)");
  EXPECT_EQ(ErrorOf("FROM a\nCOPY --link=maybe a b\n"),
            "Dockerfile:2:6: expecting boolean value for flag --link, not: maybe");
  EXPECT_EQ(ErrorOf("FROM a\nCOPY --chown a b\n"),
            "Dockerfile:2:6: missing a value on flag --chown");
  EXPECT_EQ(ErrorOf("FROM a\nCOPY --from=a --from=b a b\n"),
            "Dockerfile:2:15: duplicate flag specified: --from");
  EXPECT_EQ(ErrorOf("FROM a\nRUN --network=bridge true\n"),
            "Dockerfile:2: unsupported network mode \"bridge\" (default, none or host)");
  EXPECT_EQ(ErrorOf("FROM a\nRUN --mount=type=nfs,target=/x true\n"),
            "Dockerfile:2: --mount: unsupported mount type \"nfs\"");
  EXPECT_EQ(ErrorOf("FROM a\nENV --x=1 a=b\n"), "Dockerfile:2:5: unknown flag --x for ENV");
  EXPECT_NE(ErrorOf("FROM --platform linux/amd64 a\n").find("missing a value on flag --platform"),
            std::string::npos);
}

TEST(Instructions, MisplacedAndMissingArguments) {
  EXPECT_EQ(ErrorOf("RUN true\nFROM a\n"),
            "Dockerfile:1: RUN before the first FROM: only ARG may come before FROM");
  EXPECT_EQ(ErrorOf("ARG A\n"),
            "Dockerfile: no FROM instruction: a Dockerfile needs at least one build stage");
  EXPECT_EQ(ErrorOf("FROM a\nCOPY onlyone\n"),
            "Dockerfile:2: COPY requires at least two arguments, but only 1 provided. "
            "Destination could not be determined");
  EXPECT_EQ(ErrorOf("FROM a\nSHELL /bin/sh -c\n"),
            "Dockerfile:2: SHELL requires the arguments to be in JSON form");
  EXPECT_EQ(ErrorOf("FROM a b c\n"),
            "Dockerfile:1: FROM expects \"AS\" before the stage name, got \"b\"");
  EXPECT_EQ(ErrorOf("FROM a AS 1st\n"),
            "Dockerfile:1: invalid name for build stage: \"1st\", name can't start with a number "
            "or contain symbols");
  EXPECT_EQ(ErrorOf("FROM a AS x\nFROM b AS X\n"),
            "Dockerfile:2: duplicate stage name \"x\" (first defined at Dockerfile:1)");
  EXPECT_EQ(ErrorOf("FROM a\nONBUILD FROM b\n"),
            "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(ErrorOf("FROM a\nONBUILD ONBUILD RUN x\n"),
            "Dockerfile:2: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(ErrorOf("FROM a\nHEALTHCHECK CONNECT TCP 7000\n"),
            "Dockerfile:2: unknown type \"CONNECT\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(ErrorOf("FROM a\nHEALTHCHECK --interval=1us CMD x\n"),
            "Dockerfile:2: HEALTHCHECK --interval cannot be less than 1ms (1us)");
  EXPECT_EQ(ErrorOf("FROM a\nHEALTHCHECK --retries=-1 CMD x\n"),
            "Dockerfile:2: HEALTHCHECK --retries cannot be negative (-1)");
  EXPECT_EQ(ErrorOf("FROM a\nHEALTHCHECK --timeout=abc CMD x\n"),
            "Dockerfile:2: HEALTHCHECK invalid duration \"abc\"");
}

TEST(Instructions, HealthcheckForms) {
  auto df = ParseDockerfile("FROM a\nHEALTHCHECK NONE\nHEALTHCHECK CMD [\"foo\", \"bar\"]\n");
  EXPECT_TRUE(Cmd<HealthcheckCmd>(df, 0, 0).none);
  EXPECT_EQ(Cmd<HealthcheckCmd>(df, 0, 1).test, (std::vector<std::string>{"CMD", "foo", "bar"}));
}

TEST(Instructions, EnvAndLabelValuesAreUnquotedButNotExpanded) {
  auto df = ParseDockerfile(
      "FROM a\n"
      "ENV name=value\\ value2 q=\"a\\\"b\" s='x\"y'\n"
      "ENV d=\"$HOME/x\" e='$HOME' f=\"a\\'b\"\n");
  const auto& env = Cmd<EnvCmd>(df, 0, 0);
  ASSERT_EQ(env.vars.size(), 3u);
  EXPECT_EQ(env.vars[0].value, "value value2");
  EXPECT_EQ(env.vars[1].value, "a\"b");
  EXPECT_EQ(env.vars[2].value, "x\"y");
  const auto& env2 = Cmd<EnvCmd>(df, 0, 1);
  EXPECT_EQ(env2.vars[0].value, "$HOME/x");
  EXPECT_EQ(env2.vars[1].value, "$HOME");
  EXPECT_EQ(env2.vars[2].value, "a\\'b");  // in "...", \ only escapes " $ and itself
}

TEST(Instructions, LegacyEnvForm) {
  auto df = ParseDockerfile("FROM a\nENV PATH /usr/local/bin:$PATH\n");
  const auto& env = Cmd<EnvCmd>(df, 0, 0);
  ASSERT_EQ(env.vars.size(), 1u);
  EXPECT_EQ(env.vars[0].key, "PATH");
  EXPECT_EQ(env.vars[0].value, "/usr/local/bin:$PATH");
}

TEST(Instructions, ExpandFollowsBuildKitFields) {
  VarMap vars = {{"V", "val"}, {"PORTS", "80 443"}, {"U", "1000"}, {"SRC", "stage"}};
  auto df = ParseDockerfile(
      "FROM a\n"
      "COPY --from=$SRC --chown=$U:$U --chmod=${M:-755} $V/a ${V}b /dst/$V\n"
      "RUN echo $V\n"
      "ENV K=$V Q='$V' R=\"$V x\"\n"
      "LABEL l=$V\n"
      "EXPOSE $PORTS\n"
      "USER $U\n"
      "WORKDIR /w/$V\n"
      "VOLUME /v/$V\n"
      "STOPSIGNAL SIG$V\n"
      "ARG A=$V\n"
      "CMD echo $V\n"
      "ONBUILD RUN echo $V\n"
      "RUN --mount=type=cache,target=/c/$V,id=$V echo\n"
      "ENTRYPOINT [\"$V\"]\n");
  auto expand = [&](size_t i) { return Expand(df.stages[0].instructions[i], vars); };
  auto copy = std::get<CopyCmd>(expand(0).command);
  EXPECT_EQ(copy.from, "stage");
  EXPECT_EQ(copy.chown, "1000:1000");
  EXPECT_EQ(copy.chmod, "755");
  EXPECT_EQ(copy.sources, (std::vector<std::string>{"val/a", "valb"}));
  EXPECT_EQ(copy.dest, "/dst/val");
  EXPECT_EQ(std::get<RunCmd>(expand(1).command).args[0], "echo $V");
  auto env = std::get<EnvCmd>(expand(2).command);
  EXPECT_EQ(env.vars[0].value, "val");
  EXPECT_EQ(env.vars[1].value, "$V");
  EXPECT_EQ(env.vars[2].value, "val x");
  // Expanding twice must not expand the literal $V that came from quotes.
  Instruction twice = Expand(expand(2), vars);
  EXPECT_EQ(std::get<EnvCmd>(twice.command).vars[1].value, "$V");
  EXPECT_EQ(std::get<LabelCmd>(expand(3).command).labels[0].value, "val");
  EXPECT_EQ(std::get<ExposeCmd>(expand(4).command).ports, (std::vector<std::string>{"80", "443"}));
  EXPECT_EQ(std::get<UserCmd>(expand(5).command).user, "1000");
  EXPECT_EQ(std::get<WorkdirCmd>(expand(6).command).path, "/w/val");
  EXPECT_EQ(std::get<VolumeCmd>(expand(7).command).paths[0], "/v/val");
  EXPECT_EQ(std::get<StopsignalCmd>(expand(8).command).signal, "SIGval");
  EXPECT_EQ(std::get<ArgCmd>(expand(9).command).args[0].value.value_or(""), "val");
  EXPECT_EQ(std::get<CmdCmd>(expand(10).command).args[0], "echo $V");
  EXPECT_EQ(std::get<OnbuildCmd>(expand(11).command).expression, "RUN echo $V");
  auto mounts = std::get<RunCmd>(expand(12).command).mounts;
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].target, "/c/val");
  EXPECT_EQ(mounts[0].id, "val");
  EXPECT_EQ(std::get<EntrypointCmd>(expand(13).command).args[0], "$V");
  // The unexpanded instruction keeps its text.
  EXPECT_EQ(std::get<CopyCmd>(df.stages[0].instructions[0].command).chown, "$U:$U");
}

TEST(Instructions, ExpandErrorsCarryLocation) {
  auto df = ParseDockerfile("FROM a\n\nWORKDIR ${NOPE:?must be set}\n");
  try {
    Expand(df.stages[0].instructions[0], {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.where().line, 3);
    EXPECT_NE(std::string(e.what()).find("must be set"), std::string::npos) << e.what();
  }
}

TEST(Instructions, ParseInstructionForOnbuildTriggers) {
  Location where{"base-image ONBUILD", 7, 0, 7};
  Instruction in = ParseInstruction("COPY --chown=1 a /b", where);
  EXPECT_EQ(in.keyword, "COPY");
  EXPECT_EQ(in.location.line, 7);
  EXPECT_EQ(std::get<CopyCmd>(in.command).chown, "1");
  EXPECT_THROW(ParseInstruction("COPPY a b", where), Error);
}

TEST(Instructions, UnquoteAndEscapeRoundTrip) {
  EXPECT_EQ(UnquoteWord("'a b'\"c\\\"d\"e\\ f"), "a bc\"de f");
  EXPECT_EQ(UnquoteWord("a\\b", '`'), "a\\b");
  EXPECT_EQ(UnquoteWord("a``b", '`'), "a`b");
  EXPECT_EQ(EscapeWord("$a'b\"c\\"), "\\$a\\'b\\\"c\\\\");
  EXPECT_EQ(UnquoteWord(EscapeWord("$a'b\"c\\ d")), "$a'b\"c\\ d");
}

}  // namespace
}  // namespace kiln::frontend
