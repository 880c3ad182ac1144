"""`t2l serve --model M`: the Gradio demo page (upload or URL, labels, scores, timeline) on a local port.

Needs the `demo` extra (`pip install "modeling-t2l[demo]"`). Exit codes: 1 gradio missing or a model that does not
load; otherwise the server runs until interrupted.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a converted/trained model directory or a Hub repo id")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument("--device", default=None, help='torch device, e.g. "cpu" or "cuda:0"')


def run(args: argparse.Namespace) -> int:
    from ..demo_app import build_app, load_demo_pipeline

    try:
        import gradio  # noqa: F401  (checked before the model loads, to fail fast)
    except ImportError:
        print('t2l serve: error: the demo page needs gradio: pip install "modeling-t2l[demo]"', file=sys.stderr)
        return 1
    try:
        pipe = load_demo_pipeline(args.model, args.device)
    except (OSError, ValueError) as error:
        print(f"t2l serve: error: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return 1
    build_app(pipe).launch(server_name=args.host, server_port=args.port, share=args.share)
    return 0
