"""Speed of one test-time-training update: ms per update of `solving/ttt.py`'s real loop, per canvas size.

On CPU the solver's reach is bounded by how many updates fit in its budget, so this times exactly what
`fit_task` times as its "ttt_update" stage: draw `rows_per_step` (demo, view, colours) rows, collate,
forward with the solver's planning steps, the demo loss, backward and Adam over the whole agent plus the
per-view prompt offsets. The task is synthetic (4 random S x S demos) and the 8 view prompts are random:
the update's cost depends on the canvas, not on what the grids say. The model is the shipped one unless
`--checkpoint` names another; `--quick` uses a tiny untrained agent instead (a smoke test). `--set
model.agent.KEY=VALUE` (repeatable) times an architecture before training it: the checkpoint's model config with
those keys changed, built with fresh weights (seed 0; the update's cost does not depend on what the weights are).

    python bench/ttt_speed.py [--sizes 7,15,30] [--updates 30] [--threads 1] [--device cpu|cuda]

Each size gets one untimed warm-up fit, then `--updates` timed updates (median reported); one more short
fit per size runs under torch.profiler and its top ops by self CPU time are printed.
Last line: `ms_7x7=... ms_15x15=... ms_30x30=... cpu_ms_7x7=...` (median wall ms per update, then the
median of this thread's CPU ms per update, which another process on the same cores disturbs less).

`--flops` also counts one update's arithmetic (torch's FlopCounterMode: matmuls, convolutions, attention) and
times a large matmul on the same threads, adding `gflop_SxS=` (per update), `gflops_SxS=` (achieved GFLOP/s at
the median time) and `peak_gflops=`: how far an update is from its arithmetic floor, i.e. how much of its time
is overhead that fewer or fatter ops could remove, and how much is arithmetic that must stay.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from common import machine_line, summary_line, sync

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.data.task import Pair, Task
from arc_efe.solving.clock import TaskClock
from arc_efe.solving.ttt import CHECK, UPDATE, TaskAdapter, TTTConfig, fit_task

VIEWS = list(range(8))
DEMOS = 4


class TimingClock(TaskClock):
    """A task clock with no real deadline that keeps every run's duration (GPU work included)."""

    def __init__(self, device: str):
        super().__init__(budget=1e9)
        self.device = device
        self.durations: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}  # this thread's CPU seconds: less sensitive to a shared machine

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        sync(self.device)
        tick, cpu = self.now(), time.thread_time()
        with super().stage(name), torch.profiler.record_function(name):
            yield
            sync(self.device)
        self.durations.setdefault(name, []).append(self.now() - tick)
        self.cpu.setdefault(name, []).append(time.thread_time() - cpu)


class AgentOnly:
    """The slice of ArcSystem that fit_task uses (predict, agent_parts), for `--quick` without a checkpoint."""

    def __init__(self, agent: torch.nn.Module):
        self.agent = agent

    def predict(self, inputs, input_mask, prompt, steps=None, out_size=None, table_parts=None):
        return self.agent(inputs, input_mask, prompt, steps=steps, out_size=out_size, table_parts=table_parts)

    def agent_parts(self) -> dict[str, torch.nn.Module]:
        return dict(self.agent.named_children())

    @property
    def reads_tables(self) -> bool:
        return False  # the quick agent has no rule table (AgentConfig's default)


def synthetic_task(size: int, seed: int) -> Task:
    """DEMOS random size x size demos (a few colours each, so colour permutations have work to do)."""
    rng = np.random.default_rng(seed)

    def grid() -> np.ndarray:
        return rng.choice([0, 0, 1, 2, 3], size=(size, size)).astype(np.int64)

    return Task(f"synthetic{size}", [Pair(grid(), grid()) for _ in range(DEMOS)], [Pair(grid(), None)])


def load_system(args: argparse.Namespace):
    if args.quick:
        torch.manual_seed(0)
        return AgentOnly(build_agent(AgentConfig(channels=16, prompt_dim=32, heads=2)).to(args.device))
    from arc_efe.checkpoint_files import read_config, resolve_checkpoint
    from arc_efe.solving.load import default_model
    from arc_efe.system import ArcSystem

    checkpoint = args.checkpoint or default_model()[0]
    if args.overrides:  # the checkpoint's config only: its weights would be thrown away
        config = read_config(resolve_checkpoint(checkpoint))
        system = untrained_variant(config, args.overrides).to(args.device).eval()
    else:
        system, _ = ArcSystem.load(checkpoint, args.device)
    # Frozen as the solver freezes it (TaskAdapter then unfreezes the tuned parts): a part outside the adapter,
    # such as a rule table, gets no gradient when solving, so it must not get one here.
    return system.requires_grad_(False)


def untrained_variant(config: dict, overrides: list[str]):
    """A fresh system (seed 0) of the checkpoint's model config with `model.…=value` overrides applied."""
    from arc_efe.config import ConfigError, from_dict, merge, parse_override
    from arc_efe.system import ModelConfig, build_system

    model = config["model"]
    for text in overrides:
        fragment = parse_override(text)
        if set(fragment) != {"model"}:
            raise SystemExit(f"--set {text}: only model.… keys change the timed architecture")
        model = merge(model, fragment["model"])
    torch.manual_seed(0)
    try:
        return build_system(from_dict(ModelConfig, model, "model"))
    except (ConfigError, ValueError) as e:
        raise SystemExit(f"--set: {e}") from None


def run_updates(system, task: Task, updates: int, cfg: TTTConfig, device: str) -> TimingClock:
    """`updates` updates of fit_task on `task` with checks only at the start and end; the adapter is restored."""
    prompt_dim = system.agent.prompt_width  # the encoder's part and any rule table
    prompts = torch.randn(len(VIEWS), prompt_dim, generator=torch.Generator().manual_seed(0)).to(device)
    clock = TimingClock(device)
    run_cfg = TTTConfig(**{**cfg.__dict__, "max_steps": updates, "check_every": updates + 1})
    with TaskAdapter(system.agent_parts(), run_cfg.adapter) as adapter:
        fit_task(system, task, VIEWS, prompts, adapter, run_cfg, clock, holdout=None, seed=0)
    return clock


def update_gflop(system, task: Task, cfg: TTTConfig, device: str) -> float:
    """GFLOP of one update: two runs of `run_updates` with the same two checks, one update apart."""
    from torch.utils.flop_counter import FlopCounterMode

    counts = []
    for updates in (1, 2):
        with FlopCounterMode(display=False) as counter:
            run_updates(system, task, updates, cfg, device)
        counts.append(counter.get_total_flops())
    return (counts[1] - counts[0]) / 1e9


def matmul_peak_gflops(device: str, side: int = 1024, repeats: int = 20) -> float:
    """GFLOP/s of a large fp32 matmul on this process's threads: the arithmetic rate an update could reach."""
    a, b = torch.randn(2 * side, side, device=device), torch.randn(side, side, device=device)
    a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * 2 * side**3 * repeats / (time.perf_counter() - start) / 1e9


def profile_table(system, task: Task, cfg: TTTConfig, device: str, rows: int) -> str:
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        run_updates(system, task, 10, cfg, device)  # and its 2 checks (ttt_check rows)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def reference_forwards() -> list[tuple[type, str, object]]:
    """The agent's pre-speed-up methods, kept in tests/agent/test_fast_paths.py (the equality test's reference)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "agent" / "test_fast_paths.py"
    spec = importlib.util.spec_from_file_location("fast_paths_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_forwards()


@contextmanager
def patched(methods: list[tuple[type, str, object]]) -> Iterator[None]:
    saved = [(cls, name, cls.__dict__[name]) for cls, name, _ in methods]
    for cls, name, fn in methods:
        setattr(cls, name, fn)
    try:
        yield
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)


def compare_reference(system, task: Task, cfg: TTTConfig, device: str, rounds: int) -> tuple[float, float]:
    """Median thread-CPU ms per update of the agent's current code and of its reference (old) code,
    alternating in this process (rounds of 5 updates each, who goes first alternating too), so that a
    busy machine disturbs both alike. Everything outside the agent (rows, loss, Adam) is the same code."""
    old = reference_forwards()
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds):
        for reference in ((False, True) if r % 2 == 0 else (True, False)):
            with patched(old if reference else []):
                times[reference] += run_updates(system, task, 5, cfg, device).cpu[UPDATE]
    return 1000 * statistics.median(times[False]), 1000 * statistics.median(times[True])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="7,15,30", help="comma-separated canvas sides")
    p.add_argument("--updates", type=int, default=30, help="timed updates per size")
    p.add_argument("--rows", type=int, default=TTTConfig().rows_per_step, help="rows per update")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--checkpoint", help="a checkpoint folder (default: the shipped model)")
    p.add_argument("--profile-rows", type=int, default=15, help="ops in each profiler table (0: no profile)")
    p.add_argument("--reference-rounds", type=int, default=0,
                   help="also time the agent's old code (tests/agent/test_fast_paths.py) against the current, "
                        "alternating in-process for this many rounds of 5 updates")
    p.add_argument("--flops", action="store_true",
                   help="also count each update's GFLOP and report achieved and peak matmul GFLOP/s")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="model.KEY=VALUE",
                   help="time the checkpoint's architecture with this model config key changed, untrained "
                        "(repeatable), e.g. --set model.agent.blocks_per_step=1")
    p.add_argument("--quick", action="store_true", help="tiny untrained agent, 7x7 only, 3 updates (smoke test)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    updates = 3 if args.quick else args.updates
    sizes = [7] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(machine_line())
    system = load_system(args)
    cfg = TTTConfig(rows_per_step=args.rows)
    print(f"config: rows_per_step={cfg.rows_per_step} agent_steps={cfg.agent_steps} adapter={','.join(cfg.adapter)} "
          f"views={len(VIEWS)} demos={DEMOS} updates={updates} device={args.device}")
    summary: dict[str, object] = {}
    cpu: dict[str, object] = {}
    for size in sizes:
        task = synthetic_task(size, seed=size)
        run_updates(system, task, 2, cfg, args.device)  # warm-up: allocator, first-call paths
        clock = run_updates(system, task, updates, cfg, args.device)
        times = clock.durations[UPDATE]
        ms, cpu_ms = 1000 * statistics.median(times), 1000 * statistics.median(clock.cpu[UPDATE])
        check_ms = 1000 * statistics.median(clock.durations[CHECK])
        print(f"{size}x{size}: {ms:.2f} ms/update median ({1000 / ms:.1f} updates/s), "
              f"min {1000 * min(times):.2f} max {1000 * max(times):.2f} over {len(times)}; "
              f"thread CPU {cpu_ms:.2f} ms/update; a check of all {len(VIEWS) * DEMOS} rows {check_ms:.1f} ms")
        if args.profile_rows > 0:
            print(profile_table(system, task, cfg, args.device, args.profile_rows))
        summary[f"ms_{size}x{size}"] = ms
        cpu[f"cpu_ms_{size}x{size}"] = cpu_ms
        if args.flops:
            gflop = update_gflop(system, task, cfg, args.device)
            print(f"{size}x{size}: {gflop:.3f} GFLOP per update, {gflop / ms * 1000:.1f} GFLOP/s at the median time")
            cpu[f"gflop_{size}x{size}"] = gflop
            cpu[f"gflops_{size}x{size}"] = gflop / ms * 1000
        if args.reference_rounds > 0:
            new_ms, old_ms = compare_reference(system, task, cfg, args.device, args.reference_rounds)
            print(f"{size}x{size} alternating: thread CPU {new_ms:.2f} ms/update (current agent) vs {old_ms:.2f} "
                  f"(reference agent): {old_ms / new_ms:.2f}x")
            cpu[f"speedup_{size}x{size}"] = old_ms / new_ms
    if args.flops:
        peak = matmul_peak_gflops(args.device)
        print(f"peak: {peak:.1f} GFLOP/s for a 2048x1024 @ 1024x1024 fp32 matmul on {args.threads} thread(s)")
        cpu["peak_gflops"] = peak
    print(summary_line({**summary, **cpu}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
