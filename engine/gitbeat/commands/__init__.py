"""One module per command: `add_arguments(parser)` and `run(args) -> exit code`."""

OK = 0
FAILED = 1
CHANGES = 2
