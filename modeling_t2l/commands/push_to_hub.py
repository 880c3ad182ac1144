"""`t2l push --model-dir D --repo-id R --card NAME`: card + weights + processor + remote code, one Hub commit.

What is uploaded is an allow-list (weights, configs, processor and tokenizer files, remote code, adapters, results,
descriptions and the rendered card); everything else in the folder is left out and listed. `--dry-run DIR` writes
exactly the files the commit would send into DIR. Neither changes the model folder.

The card describes the model in the folder (architecture and frames from its config, base model and training data
from its training record). `--results` adds numbers measured with `t2l evaluate` (their results.json files), with
partial evaluations labelled by their counts. The authors' numbers from the family's cards.yaml (modeling_t2l/models/<family>/cards/) appear only with
`--released`, for the converted release, whose config must match the card's declared architecture.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", required=True, help="a folder written by `t2l train` or save_pretrained")
    parser.add_argument("--repo-id", required=True, help="the Hub repository, e.g. your-name/t2l-vitb16-k400")
    parser.add_argument("--card", required=True,
                        help="a card name from the family's cards.yaml (modeling_t2l/models/<family>/cards/)")
    parser.add_argument("--results", action="append", default=[], metavar="RESULTS_JSON",
                        help="results.json from `t2l evaluate` (repeatable)")
    parser.add_argument("--released", action="store_true",
                        help="the folder holds the authors' released weights (converted with `t2l convert`): the "
                             "card then carries the authors' numbers; refused unless the config matches the card")
    parser.add_argument("--cards-dir", default=None, help="folder with cards.yaml and model_card.md")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    parser.add_argument("--commit-message", default=None)
    parser.add_argument("--dry-run", metavar="DIR", default=None,
                        help="write exactly what would be uploaded (files + README.md) into DIR and stop")


def run(args: argparse.Namespace) -> int:
    from ..hub.push import push_model

    try:
        result = push_model(args.model_dir, args.repo_id, args.card, results=args.results, token=args.token,
                            private=args.private, commit_message=args.commit_message, cards_dir=args.cards_dir,
                            staging_dir=args.dry_run, dry_run=bool(args.dry_run), released=args.released)
    except (ValueError, KeyError, FileNotFoundError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"t2l push: error: {message}", file=sys.stderr)
        return 1
    for line in result.plan.left_out_lines():
        print(f"left out: {line}")
    if args.dry_run:
        print(f"dry run: wrote the {len(result.files)} files of the upload to {args.dry_run}")
    else:
        print(f"uploaded {len(result.files)} files to {result.commit_url or args.repo_id}")
    return 0


class _NoUpload:
    """The two HfApi calls `push_model` makes, doing nothing (for --dry-run)."""

    def create_repo(self, **kwargs):
        return None

    def create_commit(self, **kwargs):
        return None
