"""Sub-commands of the `t2l` command; each module exposes `add_arguments(parser)` and `run(args) -> int`."""
