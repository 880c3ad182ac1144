"""Regenerate docs/demo/screenshot.png: the demo page in headless Chromium on a model and a video of your choice.

    python docs/demo/make_screenshot.py --model t2l_demo/model --video story.mp4 \
        --labels-file t2l_demo/data/novel_labels.csv --template "{}" --window 2 --stride 2

Run from the repository root (it drives the page with tests/browser_page.py); needs chromium, chromium-driver,
selenium and the `demo` extra.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from modeling_t2l.commands.classify import read_labels_file  # noqa: E402
from modeling_t2l.demo_app import build_app, load_demo_pipeline  # noqa: E402
from tests.browser_page import chromium, classify_on_page, served  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", required=True)
parser.add_argument("--video", required=True)
parser.add_argument("--labels-file", type=Path, required=True)
parser.add_argument("--template")
parser.add_argument("--window", type=float)
parser.add_argument("--stride", type=float)
parser.add_argument("--out", default="docs/demo/screenshot.png")
args = parser.parse_args()

labels = "\n".join(read_labels_file(args.labels_file))
with served(build_app(load_demo_pipeline(args.model))) as url, chromium(height=1500) as driver:
    page = classify_on_page(driver, url, args.video, labels, template=args.template, window=args.window,
                            stride=args.stride, screenshot=args.out)
print(page["status"])
print(f"wrote {args.out}")
