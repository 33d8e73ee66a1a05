"""`arc-efe` entry point: builds the subcommand parser from the command modules and dispatches.

Each command module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from arc_efe.config import ConfigError
from arc_efe.data.grid import TaskFormatError

# Module names under arc_efe.cli, one per subcommand (or group of subcommands).
COMMAND_MODULES = ["data_cmd", "show_cmd", "score_cmd", "train_cmd", "diagnose_cmd", "evaluate_cmd",
                   "generate_cmd"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arc-efe", description="Learn to solve ARC-AGI puzzles.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"arc_efe.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ConfigError, TaskFormatError, FileNotFoundError) as err:
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `arc-efe data list ... | head` closes the pipe early; that is not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
