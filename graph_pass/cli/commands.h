// The fp8ops CLI's subcommands. Each takes argv with argv[0] = the subcommand's name and returns
// the process exit code: 0 success, 1 failure, 2 usage error.
#ifndef FP8OPS_GRAPH_PASS_CLI_COMMANDS_H_
#define FP8OPS_GRAPH_PASS_CLI_COMMANDS_H_

namespace fp8ops::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

// The subcommand table, ending with {nullptr, nullptr, nullptr}.
const Command* Commands();

int RunRewriteCommand(int argc, char** argv);
int RunInspectCommand(int argc, char** argv);
// Defined in conformance_command.cc (prints "not built" until the conformance runner is linked in).
int RunConformanceCommand(int argc, char** argv);

// Entry point of the `fp8ops` executable.
int Main(int argc, char** argv);

}  // namespace fp8ops::cli

#endif  // FP8OPS_GRAPH_PASS_CLI_COMMANDS_H_
