"""`t2l push --model-dir D --repo-id R --card NAME`: card + weights + processor + remote code, one Hub commit.

`--results` adds numbers measured with `t2l evaluate` (its results.json files) to the card's "Reproduced with
this library" table; the authors' numbers come from modeling_t2l/models/t2l/cards/cards.yaml and stay in their own table.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", required=True, help="a folder written by `t2l train` or save_pretrained")
    parser.add_argument("--repo-id", required=True, help="the Hub repository, e.g. your-name/t2l-vitb16-k400")
    parser.add_argument("--card", required=True, help="a card name from modeling_t2l/models/t2l/cards/cards.yaml")
    parser.add_argument("--results", action="append", default=[], metavar="RESULTS_JSON",
                        help="results.json from `t2l evaluate` (repeatable)")
    parser.add_argument("--cards-dir", default=None, help="folder with cards.yaml and model_card.md")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    parser.add_argument("--commit-message", default=None)
    parser.add_argument("--dry-run", metavar="DIR", default=None,
                        help="write what would be uploaded (files + README.md) into DIR and stop")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..hub.push import push_model

    if args.dry_run:
        # the real push, with an API that uploads nothing: the staging folder gets exactly the commit's files
        # (bundled code included), and the model folder the pipeline code a push adds to it
        staging = Path(args.dry_run)
        staging.mkdir(parents=True, exist_ok=True)
        push_model(args.model_dir, args.repo_id, args.card, results=args.results, cards_dir=args.cards_dir,
                   staging_dir=staging, api=_NoUpload())
        print(f"dry run: wrote the upload to {staging}")
        return 0
    info = push_model(args.model_dir, args.repo_id, args.card, results=args.results, token=args.token,
                      private=args.private, commit_message=args.commit_message, cards_dir=args.cards_dir)
    print(f"uploaded to {getattr(info, 'commit_url', None) or args.repo_id}")
    return 0


class _NoUpload:
    """The two HfApi calls `push_model` makes, doing nothing (for --dry-run)."""

    def create_repo(self, **kwargs):
        return None

    def create_commit(self, **kwargs):
        return None
