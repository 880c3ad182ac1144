"""Measure T2L's cost against CLIP frame averaging, X-CLIP and full fine-tuning (same as `t2l benchmark`)."""
import sys

from modeling_t2l.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
