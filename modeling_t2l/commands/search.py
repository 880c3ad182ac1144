"""`t2l search INDEX "someone juggling three balls" --top-k 10`: the videos (windows) best matching a text.

The model defaults to the one the index was built with; another model is refused (its embeddings are not
comparable). Exit codes: 0 results printed; 1 bad arguments, a missing index or a refused model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("index", type=Path, metavar="INDEX", help="an index folder written by `t2l index`")
    parser.add_argument("query", help='what to look for, e.g. "someone juggling three balls"')
    parser.add_argument("--top-k", type=int, default=10, help="results to print (default 10)")
    parser.add_argument("--model", default=None, help="the model to embed the query with (default: the index's)")
    parser.add_argument("--backend", choices=("auto", "faiss", "exact"), default="auto",
                        help="auto (default): FAISS if faiss-cpu is installed, else an exact matrix product")
    parser.add_argument("--shortlist", type=int, default=100,
                        help="models whose text depends on the video: rows re-scored with the conditioned text")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                        help="weights' dtype (default float32)")
    parser.add_argument("--device", default=None, help='torch device, e.g. "cpu" or "cuda:0" (default: first GPU, else CPU)')


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run(args: argparse.Namespace) -> int:
    from ..search import IndexMismatchError, TextDependsOnVideoError, load_index, search
    from .evaluate import load_model_and_processor

    try:
        if args.top_k < 1 or args.shortlist < 1:
            raise ValueError("--top-k and --shortlist must be >= 1")
        index = load_index(args.index)
    except (FileNotFoundError, ValueError) as error:
        print(f"t2l search: error: {error}", file=sys.stderr)
        return 1
    name = args.model or index.model["name_or_path"]
    try:
        model, processor = load_model_and_processor(name, args.device or default_device(), args.dtype)
    except (OSError, ValueError) as error:
        print(f"t2l search: error: cannot load model {name!r}: {error}", file=sys.stderr)
        return 1
    try:
        results = search(index, args.query, model, processor, top_k=args.top_k, backend=args.backend,
                         shortlist=args.shortlist)
    except (IndexMismatchError, TextDependsOnVideoError, ValueError, ImportError) as error:
        print(f"t2l search: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"index": str(args.index), "query": args.query, "results": results}, indent=2))
    else:
        for result in results:
            print(f"{result['score']:.4f}  {result['path']}  {result['start']:.2f}-{result['end']:.2f}s")
    return 0
