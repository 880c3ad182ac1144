"""Upload a trained model, processor, remote code and model card in one commit: same arguments as `t2l push`."""
import sys

from modeling_t2l.cli import main

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
