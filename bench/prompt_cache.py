"""Prompt caching: mean training-step time with `prompt_refresh 1` vs `10`, and the encoder's share.

Both settings train on the same windows, alternating: each window draws one batch of samples; the
refresh-10 arm collates it once and runs 10 steps (1 refresh step with the encoder, 9 cached), the
refresh-1 arm collates it every step, as the loop does when it draws each step, and runs the encoder
every step. Same data, so the difference is the caching alone. The encoder's share is its
forward + backward (with the two demo-subset encodings of the prompt-consistency term, as a refresh
step does), timed separately on the window's batch, over the refresh step's time.

    python bench/prompt_cache.py [--windows 20] [--quick]

Last line: `speedup=... step_ms_refresh1=... step_ms_refresh10=... encoder_share=...`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


from common import bench_config, machine_line, set_threads, summary_line, timed

from arc_efe.data.batching import Batch, Sample, collate
from arc_efe.training.prompt_cache import PromptCache
from arc_efe.system import split_context
from arc_efe.training.loop import Trainer
from arc_efe.training.step import train_step


class Bench:
    """One Trainer (system, optimiser, sampler); a separate prompt cache per refresh setting."""

    def __init__(self, trainer: Trainer, refresh: int):
        self.t = trainer
        self.refresh = refresh
        self.caches = {1: PromptCache(1), refresh: PromptCache(refresh)}
        self.step = 0  # one counter for both arms: a window's prompts are stale by the next window

    def _train(self, batch: Batch, cache: PromptCache) -> None:
        t = self.t
        train_step(t.system, batch, t.optimizer, t.scheduler, t.accelerator, cache, t.groups, self.step,
                   t.epoch, t.cfg)
        self.step += 1

    def _batch(self, samples: list[Sample]) -> Batch:
        return collate(samples).to(self.t.accelerator.device)

    def window(self, samples: list[Sample], refresh: int) -> list[float]:
        """Seconds of each of the window's steps, batch collation included: refresh 1 collates every
        step, as the loop does when it draws a batch every step."""
        batch: Batch | None = None

        def step() -> None:
            nonlocal batch
            if batch is None or refresh == 1:
                batch = self._batch(samples)
            self._train(batch, self.caches[refresh])

        return [timed(step) for _ in range(self.refresh)]

    def encoder_seconds(self, samples: list[Sample]) -> float:
        """Forward + backward of every encoder call a refresh step makes, on this batch."""
        t = self.t
        contexts = self._batch(samples).contexts
        encoder = t.accelerator.unwrap_model(t.system).encoder

        def run() -> None:
            with t.accelerator.autocast():
                total = encoder(contexts).float().sum()
                rows, first, second = split_context(contexts)
                if t.cfg.prompt_consistency and rows:
                    total = total + encoder(first).float().sum() + encoder(second).float().sum()
            total.backward()

        seconds = timed(run)
        t.optimizer.zero_grad(set_to_none=True)  # leave no gradient behind for the next real step
        return seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--windows", type=int, default=20, help="windows per arm (each window: 10 steps per arm)")
    p.add_argument("--refresh", type=int, default=10, help="the cached setting's prompt_refresh")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true", help="tiny preset, one window (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.windows = 1
    if args.windows < 1 or args.refresh < 2:
        p.error("--windows must be >= 1 and --refresh >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench_config(Path(tmp) / "run", args.quick, device="cpu", prompt_refresh=args.refresh)
        bench = Bench(Trainer(cfg), args.refresh)
        print(f"batch {cfg.data.batch_size}, {args.windows} windows of {args.refresh} steps per arm, "
              f"prompt_consistency={cfg.prompt_consistency}", flush=True)
        warm = bench.t.sampler.next_batch()  # one untimed window per arm and one encoder pass
        bench.window(warm, args.refresh)
        bench.window(warm, 1)
        bench.encoder_seconds(warm)
        times: dict[int, list[float]] = {1: [], args.refresh: []}
        encoder, refresh_steps = [], []
        for w in range(args.windows):
            samples = bench.t.sampler.next_batch()
            for refresh in ((1, args.refresh) if w % 2 else (args.refresh, 1)):  # alternate who goes first
                times[refresh].extend(bench.window(samples, refresh))
            refresh_steps.append(times[args.refresh][-args.refresh])
            encoder.append(bench.encoder_seconds(samples))
            print(f"window {w}: refresh 1 {1000 * sum(times[1][-args.refresh:]) / args.refresh:.1f} ms/step, "
                  f"refresh {args.refresh} {1000 * sum(times[args.refresh][-args.refresh:]) / args.refresh:.1f}"
                  f" ms/step, encoder {1000 * encoder[-1]:.1f} ms", flush=True)
    ms1 = 1000 * sum(times[1]) / len(times[1])
    ms_n = 1000 * sum(times[args.refresh]) / len(times[args.refresh])
    cached = [s for i, s in enumerate(times[args.refresh]) if i % args.refresh]
    print(summary_line({
        "speedup": ms1 / ms_n, "step_ms_refresh1": ms1, f"step_ms_refresh{args.refresh}": ms_n,
        "encoder_share": sum(encoder) / sum(refresh_steps), "encoder_ms": 1000 * sum(encoder) / len(encoder),
        "refresh_step_ms": 1000 * sum(refresh_steps) / len(refresh_steps),
        "cached_step_ms": 1000 * sum(cached) / len(cached), "batch": cfg.data.batch_size,
        "windows": args.windows,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
