"""The offline quickstart (T2L's experiment in miniature): same options as `t2l demo` (see --help)."""
import sys

from modeling_t2l.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
