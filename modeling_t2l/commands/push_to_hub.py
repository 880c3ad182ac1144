"""`t2l push --model-dir D --repo-id R --card NAME`: card + weights + processor + remote code, one Hub commit.

`--results` adds numbers measured with `t2l evaluate` (its results.json files) to the card's "Reproduced with
this library" table; the authors' numbers come from hub_cards/cards.yaml and stay in their own table.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", required=True, help="a folder written by `t2l train` or save_pretrained")
    parser.add_argument("--repo-id", required=True, help="the Hub repository, e.g. your-name/t2l-vitb16-k400")
    parser.add_argument("--card", required=True, help="a card name from hub_cards/cards.yaml")
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

    from ..hub.push import push_model, render_card, upload_files

    if args.dry_run:
        staging = Path(args.dry_run)
        staging.mkdir(parents=True, exist_ok=True)
        for name, path in upload_files(args.model_dir):
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(path.read_bytes())
        card = render_card(args.card, args.repo_id, model_dir=args.model_dir, results=args.results,
                           cards_dir=args.cards_dir)
        (staging / "README.md").write_text(str(card))
        print(f"dry run: wrote the upload to {staging}")
        return 0
    info = push_model(args.model_dir, args.repo_id, args.card, results=args.results, token=args.token,
                      private=args.private, commit_message=args.commit_message, cards_dir=args.cards_dir)
    print(f"uploaded to {getattr(info, 'commit_url', None) or args.repo_id}")
    return 0
