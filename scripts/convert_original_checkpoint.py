"""Convert an official T2L / EZ-CLIP checkpoint: same arguments as `t2l convert` (see --help)."""
import sys

from modeling_t2l.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
