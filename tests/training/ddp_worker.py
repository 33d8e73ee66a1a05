"""Run by tests/training/test_ddp.py under `torchrun --nproc_per_node 2`: train a few steps, dump weights."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import tiny_config  # noqa: E402

from arc_efe.training.loop import Trainer  # noqa: E402


def main(tasks_dir: str, out: str) -> None:
    trainer = Trainer(tiny_config(tasks_dir, out, max_steps=3, prompt_refresh=2))
    trainer.run()
    model = trainer.accelerator.unwrap_model(trainer.system)
    rank = trainer.accelerator.process_index
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, Path(out) / f"weights-rank{rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
