#include "graph_pass/cli/commands.h"

int main(int argc, char** argv) { return fp8ops::cli::Main(argc, argv); }
