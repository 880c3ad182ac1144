"""`t2l classify VIDEO... --model M --labels "a,b,c"`: zero-shot classification from the shell.

Exit codes: 0 every video classified; 2 at least one video could not be read or downloaded (each is named on
stderr with its reason, the others are still classified and printed); 1 bad arguments or a model that does not load.
URLs are downloaded within `--download-timeout` seconds in total and up to `--max-download-mb` MiB.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, frame folders or http(s) URLs")
    parser.add_argument(
        "--model", required=True, help="a converted/trained T2L directory or a Hub repo id (with its processor)"
    )
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument("--labels", help='comma-separated candidate labels, e.g. "archery,juggling balls,surfing"')
    labels.add_argument(
        "--labels-file",
        type=Path,
        help="one label per line (blank lines and lines starting with # are skipped), or a T2L label CSV (id,name)",
    )
    parser.add_argument("--top-k", type=int, default=5, help="labels printed per video (default 5; 0 = all)")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every result")
    parser.add_argument(
        "--template",
        action="extend",
        nargs="+",
        metavar="T",
        help='prompt template(s) with {} for the label; several are an ensemble (softmax per template, averaged). '
        "Default: the bundled T2L descriptions when every label has one, else ActionCLIP's 16 templates",
    )
    parser.add_argument(
        "--descriptions",
        help="descriptions to score with: a bundled set (hmdb51, ucf101, k400, k600, k600_exclusive, ssv2) or a CSV "
        "with the T2L columns 'Class Name' and 'GPT3 discription'",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="videos per forward of the vision tower (default 4)")
    parser.add_argument("--num-clips", type=int, default=1, help="temporal views per video (default 1, official)")
    parser.add_argument("--num-crops", type=int, default=1, choices=(1, 3), help="spatial views (default 1, official)")
    parser.add_argument("--download-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="total seconds a URL download may take (default 30)")
    parser.add_argument("--max-download-mb", type=float, default=512.0, metavar="MIB",
                        help="largest URL download accepted, in MiB (default 512)")
    parser.add_argument("--device", default=None, help='torch device, e.g. "cpu" or "cuda:0" (default: first GPU, else CPU)')


def read_labels_file(path: Path) -> list[str]:
    """Labels from a text file (one per line) or a T2L label CSV with an `id,name` header."""
    if not path.is_file():
        raise ValueError(f"labels file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if lines and lines[0].strip().lower().replace(" ", "") == "id,name":
        return [row["name"] for row in csv.DictReader(lines)]
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def load_pipeline(model: str, device=None):
    """Build the pipeline with this package's classes (no remote code needed for any registered family)."""
    from transformers import AutoModelForVideoClassification

    from ..pipelines.zero_shot_video_classification import ZeroShotVideoClassificationPipeline

    loaded = AutoModelForVideoClassification.from_pretrained(model)
    return ZeroShotVideoClassificationPipeline(model=loaded, device=device)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    try:
        labels = args.labels if args.labels is not None else read_labels_file(args.labels_file)
        if args.top_k < 0 or args.batch_size < 1 or args.num_clips < 1:
            raise ValueError("--top-k must be >= 0, --batch-size and --num-clips >= 1")
        if not args.download_timeout > 0 or not args.max_download_mb > 0:
            raise ValueError("--download-timeout and --max-download-mb must be positive")
    except ValueError as error:
        print(f"t2l classify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        pipe = load_pipeline(args.model, args.device)
    except (OSError, ValueError) as error:
        print(f"t2l classify: error: cannot load model {args.model!r}: {error}", file=sys.stderr)
        return EXIT_USAGE

    call_kwargs = dict(candidate_labels=labels, num_clips=args.num_clips, num_crops=args.num_crops,
                       timeout=args.download_timeout, max_download_bytes=int(args.max_download_mb * 1024 * 1024),
                       on_error="return")
    if args.template:
        call_kwargs["hypothesis_template"] = args.template
    if args.top_k:
        call_kwargs["top_k"] = args.top_k
    try:
        if args.descriptions:
            call_kwargs["descriptions"] = _descriptions_argument(args.descriptions)
        # Embeds the labels once (cached for every video) and checks labels, templates and descriptions up front.
        pipe.text_embeddings(labels, call_kwargs.get("hypothesis_template"), call_kwargs.get("descriptions"))
    except (ValueError, KeyError, TypeError, FileNotFoundError) as error:
        print(f"t2l classify: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    texts = pipe.last_class_texts
    where = f" ({texts.description_set})" if texts.description_set else ""
    print(f"t2l classify: {texts.num_classes} labels scored with {texts.mode}{where}", file=sys.stderr)

    results, failures = {}, {}
    progress = tqdm(total=len(args.videos), unit="video", desc="classify", file=sys.stderr, disable=None)
    for start in range(0, len(args.videos), args.batch_size):
        chunk = args.videos[start : start + args.batch_size]
        # on_error="return": an unreadable video gets an error entry in its place, the others are still scored
        for video, scores in zip(chunk, pipe(list(chunk), batch_size=args.batch_size, **call_kwargs)):
            if isinstance(scores, dict) and "error" in scores:
                failures[video] = scores["error"]
                print(f"t2l classify: cannot read {video}: {failures[video]}", file=sys.stderr)
            else:
                results[video] = scores
        progress.update(len(chunk))
    progress.close()

    if args.json:
        document = {
            "model": args.model,
            "text_mode": texts.mode,
            "description_set": texts.description_set,
            "num_clips": args.num_clips,
            "num_crops": args.num_crops,
            "results": [{"video": video, "predictions": results[video]} for video in args.videos if video in results],
            "errors": [{"video": video, "error": failures[video]} for video in args.videos if video in failures],
        }
        print(json.dumps(document, indent=2))
    else:
        for video in args.videos:
            if video in results:
                print(video)
                for prediction in results[video]:
                    print(f"  {prediction['score']:.4f}  {prediction['label']}")
    return EXIT_UNREADABLE if failures else EXIT_OK


def _descriptions_argument(value: str):
    """A bundled set name stays a name; a CSV path is read into {label: text}."""
    if value.endswith(".csv"):
        from ..zero_shot.prompts import load_descriptions

        return load_descriptions(value)
    return value
