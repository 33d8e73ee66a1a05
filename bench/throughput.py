"""Training throughput: our `train_step` loop vs a reference loop built like the prototype, same sizes.

Ours is the real loop body (`Trainer._draw_window` + `train_step`) timed over whole prompt-refresh
windows, so refresh steps (encoder with gradients) and cached steps count in their true proportion.
The reference mirrors the prototype's design at the same model sizes: one pair per step on the full
30x30 canvas, the encoder recomputed every step, both agent forwards (before and after) with graphs,
fp32, one optimiser group and one joint gradient clip. Both run in this process, alternating, and the
median of the repeats is reported.

Two rates, because our loop trains each window's batch `prompt_refresh` times: unique pairs/s (new
training pairs drawn per second: what data throughput means) and optimiser updates/s. The reference
draws a new pair for every update, so its two rates are the same number. `ours_pair_updates_s`
(batch x updates/s, repeats counted) is what this script called `ours_pairs_s` before, and the training
log's `pairs_per_s`.

    python bench/throughput.py [--steps 50 --ref-steps 30 --repeats 5] [--quick]

Last line: `unique_ratio=... updates_ratio=... ours_unique_pairs_s=... ours_updates_s=... ours_pair_updates_s=...
ref_pairs_s=... ours_ms_step=... ref_ms_step=...`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import torch

from common import bench_config, machine_line, median, set_threads, summary_line, timed

from arc_efe.data.batching import TaskSampler, collate
from arc_efe.data.grid import MAX_SIZE
from arc_efe.data.task import Task
from arc_efe.system import build_system
from arc_efe.objective.efe import efe_loss, size_weight_at
from arc_efe.objective.metrics import cell_accuracy, refinement_reward
from arc_efe.objective.policy_gradient import policy_gradient_loss
from arc_efe.training.config import TrainConfig
from arc_efe.training.loop import Trainer
from arc_efe.training.step import train_step


class OursLoop:
    """The trainer's own loop body without logging, evaluation or checkpoints."""

    def __init__(self, cfg: TrainConfig):
        self.trainer = Trainer(cfg)
        self.refresh = cfg.prompt_refresh

    def run(self, steps: int) -> None:
        t = self.trainer
        for _ in range(steps):
            if t.window is None or t.state.step - t.state.window_start >= self.refresh:
                t._draw_window()
            train_step(t.system, t.window, t.optimizer, t.scheduler, t.accelerator, t.cache, t.groups,
                       t.state.step, t.epoch, t.cfg)
            t.state.step += 1


class ReferenceLoop:
    """One pair per step, as the prototype trained: no batching, no prompt cache, no size buckets."""

    def __init__(self, cfg: TrainConfig, tasks: list[Task], device: torch.device, canvas: int | None):
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.device = device
        self.canvas = canvas
        self.system = build_system(cfg.model).to(device).train()
        self.params = [p for p in self.system.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.optim.agent_lr, weight_decay=cfg.optim.weight_decay)
        self.sampler = TaskSampler(tasks, 1, seed=cfg.seed + 1, augment=cfg.data.augment,
                                   keep_background=cfg.data.keep_background, bucket_by_size=False)

    def step(self) -> float:
        batch = collate(self.sampler.next_batch(), canvas=self.canvas).to(self.device)
        system, cfg = self.system, self.cfg
        prompt = system.encoder(batch.contexts)  # [1, P], with graph every step
        sample = system.policy.sample(prompt.detach(), batch.stats)
        refined = prompt + sample.delta.detach()
        before = system.agent(batch.query_input, batch.query_input_mask, prompt)  # with graph, as there
        after = system.agent(batch.query_input, batch.query_input_mask, refined)
        backward = system.agent.backward_beliefs(batch.query_output, batch.query_output_mask, refined)
        efe, _ = efe_loss(after, batch.query_output, batch.query_output_mask, batch.output_size, cfg.efe,
                          size_weight_at(0.0, cfg.efe), backward)
        target = (batch.query_output, batch.output_size)
        reward = refinement_reward(cell_accuracy(*before.predict(), *target),
                                   cell_accuracy(*after.predict(), *target))
        pg, _ = policy_gradient_loss(sample.log_prob, reward, sample.value, sample.entropy, cfg.pg)
        loss = efe + pg
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, cfg.optim.grad_clip)
        self.optimizer.step()
        return loss.item()  # the prototype logged every step: one host sync per step

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=50, help="our steps per repeat (rounded up to whole windows)")
    p.add_argument("--ref-steps", type=int, default=30, help="reference steps (pairs) per repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--ref-canvas", type=int, default=MAX_SIZE,
                   help="reference canvas side (0: each pair's own size, i.e. bucketing credited to both)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true", help="tiny preset, a few steps (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.ref_steps, args.repeats = 10, 3, 2
    if min(args.steps, args.ref_steps, args.repeats) < 1:
        p.error("--steps, --ref-steps and --repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench_config(Path(tmp) / "run", args.quick, device="cpu")  # the default precision (fp32 on CPU)
        ours = OursLoop(cfg)
        ref = ReferenceLoop(cfg, ours.trainer.train_tasks, ours.trainer.accelerator.device,
                            args.ref_canvas or None)
        windows = math.ceil(args.steps / cfg.prompt_refresh)
        steps = windows * cfg.prompt_refresh
        print(f"ours: batch {cfg.data.batch_size}, refresh {cfg.prompt_refresh}, {steps} steps/repeat; "
              f"reference: batch 1, canvas {args.ref_canvas or 'own'}, {args.ref_steps} steps/repeat", flush=True)
        ours.run(cfg.prompt_refresh)  # warm-up: one window each, not timed
        ref.run(min(args.ref_steps, cfg.prompt_refresh))
        ours_ms: list[float] = []
        ref_ms: list[float] = []
        arms = [(lambda: ours.run(steps), steps, ours_ms),
                (lambda: ref.run(args.ref_steps), args.ref_steps, ref_ms)]
        for r in range(args.repeats):
            for fn, n, times in arms if r % 2 == 0 else arms[::-1]:  # alternate who goes first
                times.append(1000 * timed(fn) / n)
            print(f"repeat {r}: ours {ours_ms[-1]:.1f} ms/step, reference {ref_ms[-1]:.1f} ms/step", flush=True)
    ours_step, ref_step = median(ours_ms), median(ref_ms)
    ours_updates, ref_updates = 1000 / ours_step, 1000 / ref_step
    ours_unique = cfg.data.batch_size * ours_updates / cfg.prompt_refresh  # one new batch per window
    ref_pairs = ref_updates  # one new pair per update
    print(summary_line({"unique_ratio": ours_unique / ref_pairs, "updates_ratio": ours_updates / ref_updates,
                        "ours_unique_pairs_s": ours_unique, "ours_updates_s": ours_updates,
                        "ours_pair_updates_s": cfg.data.batch_size * ours_updates, "ref_pairs_s": ref_pairs,
                        "ours_ms_step": ours_step, "ref_ms_step": ref_step, "batch": cfg.data.batch_size,
                        "refresh": cfg.prompt_refresh, "ref_canvas": args.ref_canvas or "own",
                        "repeats": args.repeats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
