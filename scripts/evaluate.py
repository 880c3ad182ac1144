"""Evaluate a model on a named protocol: same arguments as `t2l evaluate` (see --help)."""
import sys

from modeling_t2l.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
