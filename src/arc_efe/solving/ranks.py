"""Solving across processes and machines: which rank solves which task, where it keeps its records, and
the few messages the ranks exchange.

`torchrun` and `accelerate launch` start one process per rank with RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT set. Solving needs no gradient exchange, only a share of the tasks and a
rendezvous at each end, so the ranks talk over torch.distributed's gloo backend (small CPU messages,
whatever device solves) and not through accelerate, which is training's engine (ARCHITECTURE.md).

Each rank appends its records to `OUT/ranks/rank-NNN/tasks.jsonl` (resumable on its own, like a
one-process run); records travel to rank 0 over the process group, so the ranks need no shared disk.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from arc_efe.data.task import Task
from arc_efe.solving.records import RECORDS_FILE, TaskRecord, append_record, check_run, read_records

RANKS_DIR = "ranks"
# Rank 0 waits at the final rendezvous while the slowest rank finishes its share: hours for a large set
# at a long budget. A rank that dies is not waited for: the launcher stops the others.
RENDEZVOUS_TIMEOUT = datetime.timedelta(days=2)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the solving processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {self.rank} is outside a world of {self.world} processes")


def launched_ranks(environ: Mapping[str, str] = os.environ) -> Ranks:
    """The ranks a launcher (torchrun, accelerate launch) announced in the environment; none: one process."""
    world = int(environ.get("WORLD_SIZE", "1"))
    return Ranks(int(environ.get("RANK", "0")), world, int(environ.get("LOCAL_RANK", "0")))


@contextmanager
def joined(ranks: Ranks) -> Iterator[None]:
    """Join the process group for the `with` body (a no-op for one process or a group already joined)."""
    if ranks.world == 1 or dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo", rank=ranks.rank, world_size=ranks.world, timeout=RENDEZVOUS_TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """One GPU per rank on a machine (LOCAL_RANK picks it); a CPU is shared."""
    if device.type != "cuda" or ranks.world == 1:
        return device
    chosen = torch.device("cuda", ranks.local_rank % torch.cuda.device_count())
    torch.cuda.set_device(chosen)
    return chosen


def share(tasks: list[Task], ranks: Ranks) -> list[Task]:
    """This rank's tasks: round-robin over the sorted task ids, so the split depends only on the task list
    and the world size (kept in the given order)."""
    mine = set(sorted(t.id for t in tasks)[ranks.rank::ranks.world])
    return [t for t in tasks if t.id in mine]


def rank_dir(out_dir: Path, rank: int) -> Path:
    return out_dir / RANKS_DIR / f"rank-{rank:03d}"


def agree(error: str | None, ranks: Ranks) -> None:
    """Raise ValueError on every rank when any rank found an error (one rank alone would leave the others
    waiting at the next rendezvous)."""
    errors = [error]
    if ranks.world > 1:
        errors = [None] * ranks.world
        dist.all_gather_object(errors, error)
    first = next((e for e in errors if e), None)
    if first:
        raise ValueError(first)


def prepare(out_dir: Path, settings: dict[str, Any], ranks: Ranks) -> None:
    """Check (or write) run.json: rank 0 the run's own, every rank of several its folder's; rank 0 then takes
    in the records of rank folders no rank of this run owns. A resume with other settings is refused on all
    ranks together."""
    error = None
    try:
        if ranks.main:
            check_run(out_dir, settings)
            absorb_rank_folders(out_dir, settings, first=ranks.world if ranks.world > 1 else 0)
        if ranks.world > 1:
            check_run(rank_dir(out_dir, ranks.rank), settings)
    except ValueError as err:
        error = str(err)
    agree(error, ranks)


def absorb_rank_folders(out_dir: Path, settings: dict[str, Any], first: int = 0) -> None:
    """Move the records of rank folders `first`, `first`+1, ... (left by an interrupted run with more ranks
    than now) into `out_dir/tasks.jsonl` and delete those folders; only rank 0 calls it."""
    parent = out_dir / RANKS_DIR
    if not parent.is_dir():
        return
    known = read_records(out_dir)
    for folder in sorted(parent.glob("rank-*")):
        if int(folder.name.split("-")[1]) < first:
            continue
        check_run(folder, settings)
        for record in read_records(folder).values():
            if record.id not in known:
                append_record(out_dir, record)
                known[record.id] = record
        shutil.rmtree(folder)
    if first == 0:
        shutil.rmtree(parent, ignore_errors=True)


def all_records(local: dict[str, TaskRecord], ranks: Ranks) -> dict[str, TaskRecord]:
    """The union of every rank's `local` records, on every rank."""
    if ranks.world == 1:
        return dict(local)
    gathered: list[Any] = [None] * ranks.world
    dist.all_gather_object(gathered, {k: r.to_json() for k, r in local.items()})
    return {k: TaskRecord.from_json(v) for part in gathered for k, v in part.items()}


def records_to_main(records: dict[str, TaskRecord], ranks: Ranks) -> dict[str, TaskRecord]:
    """Every rank's `records`, on rank 0 (the others get {})."""
    if ranks.world == 1:
        return dict(records)
    gathered: list[Any] | None = [None] * ranks.world if ranks.main else None
    dist.gather_object({k: r.to_json() for k, r in records.items()}, gathered, dst=0)
    if not ranks.main:
        return {}
    return {k: TaskRecord.from_json(v) for part in gathered for k, v in part.items()}


def from_main(value: Any, ranks: Ranks) -> Any:
    """Rank 0's `value`, on every rank."""
    if ranks.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def write_merged(out_dir: Path, records: list[TaskRecord]) -> None:
    """Replace `out_dir/tasks.jsonl` with `records` in that order (atomically: a crash keeps the old file)."""
    path = out_dir / RECORDS_FILE
    tmp = path.with_name(f".{path.name}.merged")
    tmp.write_text("".join(json.dumps(r.to_json()) + "\n" for r in records))
    os.replace(tmp, path)


def finish(out_dir: Path, ranks: Ranks) -> None:
    """After rank 0 wrote the merged tasks.jsonl: drop the rank folders (on a shared disk and on each
    machine's own), so the run folder looks like a one-process run's."""
    if ranks.world == 1:
        return
    dist.barrier()
    shutil.rmtree(rank_dir(out_dir, ranks.rank), ignore_errors=True)
    dist.barrier()
    if ranks.main:
        shutil.rmtree(out_dir / RANKS_DIR, ignore_errors=True)
