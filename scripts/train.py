"""Train T2L from a recipe: same arguments as `t2l train` (see --help). Works under accelerate launch and torchrun."""
import sys

from modeling_t2l.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
