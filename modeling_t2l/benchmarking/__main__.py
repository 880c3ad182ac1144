"""`python -m modeling_t2l.benchmarking probe '<task json>'`: the subprocess side of `run_probe`."""
import json
import sys

from .training import _probe_main

if __name__ == "__main__":  # the subprocess side of run_probe
    if len(sys.argv) != 3 or sys.argv[1] != "probe":
        sys.exit("usage: python -m modeling_t2l.benchmarking probe '<task json>'")
    print(json.dumps(_probe_main(json.loads(sys.argv[2]))))
