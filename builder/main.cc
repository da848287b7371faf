#include "builder/cli.h"

int main(int argc, char** argv) { return kiln::builder::RunCli(argc, argv); }
