"""`arc-efe train` and `arc-efe plot`."""

from __future__ import annotations

import argparse
import logging
import sys

from arc_efe.cli.train_args import add_train_arguments, config_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train encoder, agent and policy",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_train_arguments(p)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run exactly from its latest checkpoint, with the run's saved config "
                        "(flags and --set still change keys; the model's must match)")
    p.set_defaults(func=run_train)

    plot = subparsers.add_parser("plot", help="write RUN_DIR/curves.png from metrics.jsonl")
    plot.add_argument("run_dir")
    plot.add_argument("-o", "--output", help="PNG path (default RUN_DIR/curves.png)")
    plot.set_defaults(func=run_plot)


def run_train(args: argparse.Namespace) -> int:
    from arc_efe.training.checkpoint import CheckpointWriteError
    from arc_efe.training.loop import train

    cfg = config_from_args(args)
    if args.resume and args.out is None:
        cfg.out = args.resume  # resuming writes into the same run folder unless told otherwise
    logging.getLogger("arc_efe").setLevel(logging.INFO)
    try:
        run_dir = train(cfg, resume=args.resume)
    except CheckpointWriteError as err:  # e.g. a full disk: the previous checkpoint and `latest` are intact
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"run folder: {run_dir}  (checkpoints/, best/, metrics.jsonl, eval.jsonl, config.json)")
    _remind_overlaps(run_dir)
    return 0


def _remind_overlaps(run_dir) -> None:
    """Repeat the contamination warning at the end, where it cannot scroll away under the training log."""
    from arc_efe.checkpoint_files import resolve_checkpoint
    from arc_efe.training.provenance import TRAINED_ON_FILE, load_provenance

    provenance = load_provenance(resolve_checkpoint(run_dir))
    if provenance is None:
        return
    for name, overlap in provenance["overlaps"].items():
        if overlap["count"]:
            shown = ", ".join(overlap["ids"][:5]) + (", ..." if overlap["count"] > 5 else "")
            print(f"WARNING: this run trained on {overlap['count']} task(s) of {name} by content ({shown}); "
                  f"recorded in each checkpoint's {TRAINED_ON_FILE}", file=sys.stderr)


def run_plot(args: argparse.Namespace) -> int:
    from arc_efe.training.curves import plot_curves

    path = plot_curves(args.run_dir, args.output)
    print(path)
    return 0
