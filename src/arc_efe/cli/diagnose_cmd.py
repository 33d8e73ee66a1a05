"""`arc-efe diagnose`: the gradient-flow doctor, with the same flags as `arc-efe train`."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile

from arc_efe.cli.train_args import add_train_arguments, config_from_args


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "diagnose", help="run one real training step and check that gradients flow where they must",
        description="Builds the run the same flags would train, takes one prompt-refresh step and one "
                    "cached-prompt step on one real batch, and checks ten points of gradient flow. Exit code 0 "
                    "only if all pass. --epochs/--max-steps are accepted and ignored (always 2 steps).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_train_arguments(p)
    p.add_argument("--json", action="store_true", help="print the ten checks as a JSON list")
    p.set_defaults(func=run_diagnose)


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def format_report(diagnosis) -> str:
    rows = [f"arc-efe diagnose: {diagnosis.setup}"]
    rows.append(f"{'#':>2}  {'check':<36}  {'status':<6}  {'value':>9}  message")
    for c in diagnosis.checks:
        rows.append(f"{c.check:>2}  {c.name:<36}  {c.status:<6}  {format_value(c.value):>9}  {c.message}")
    for label, names in (("no gradient", diagnosis.params_without_grad),
                         ("a zero gradient", diagnosis.params_with_zero_grad)):
        listed = "".join(f"\n  {name}" for name in names) if names else " none"
        rows.append(f"trainable parameters with {label} on the refresh step:{listed}")
    rows += [f"note: {note}" for note in diagnosis.notes]
    failed = [str(c.check) for c in diagnosis.checks if not c.passed]
    verdict = f"FAILED checks: {', '.join(failed)}" if failed else "all 10 checks passed"
    refresh, cached = diagnosis.step_seconds
    rows.append(f"{verdict} (refresh step {refresh:.2f} s, cached step {cached:.2f} s, {diagnosis.seconds:.1f} s "
                "in all)")
    return "\n".join(rows)


def run_diagnose(args: argparse.Namespace) -> int:
    from arc_efe.diagnose.runner import run_diagnosis

    cfg = config_from_args(args)
    cfg.progress = False
    if args.json:  # keep stdout pure JSON
        logging.getLogger("arc_efe").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="arc-efe-diagnose-") as tmp:
        if args.out is None:
            cfg.out = tmp  # the doctor's config.json and metrics.jsonl must not land in a real run folder
        diagnosis = run_diagnosis(cfg)
    if args.json:
        print(json.dumps([c.to_json() for c in diagnosis.checks], indent=2))
    else:
        print(format_report(diagnosis))
    return 0 if diagnosis.passed else 1
