"""Training survives crashes: a kill inside a checkpoint save, a full disk, a corrupt checkpoint, NaN losses."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys

import accelerate
import pytest
import torch

from arc_efe.cli.main import main
from arc_efe.training import checkpoint as ckpt
from arc_efe.training import step as step_module
from arc_efe.training.loop import Trainer

from .conftest import tiny_config

KILL_IN_SAVE = """
import os, signal, sys
import accelerate
from arc_efe.cli.main import main

save_state = accelerate.Accelerator.save_state


def save_then_die(self, output_dir=None, **kwargs):
    # The accelerate state is on disk in the temp folder; config, checksums and the rename are not.
    result = save_state(self, output_dir, **kwargs)
    if output_dir.endswith(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    return result


accelerate.Accelerator.save_state = save_then_die
sys.exit(main(sys.argv[2:]))
"""


def train_argv(tasks_dir, out, *extra) -> list[str]:
    return ["train", "--preset", "tiny", "--tasks", str(tasks_dir), "--set", "data.val_fraction=0.2",
            "--precision", "fp32", "--device", "cpu", "--prompt-refresh", "2", "--out", str(out), *extra]


def losses(run_dir) -> list[tuple[int, float, float]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["Loss"], r["Total"]) for r in records]


def test_killed_while_saving_resumes_from_the_last_complete_checkpoint(small_tasks_dir, tmp_path):
    args = ["--max-steps", "6", "--save-every", "2"]
    assert main(train_argv(small_tasks_dir, tmp_path / "straight", *args)) == 0

    killed = tmp_path / "killed"
    driver = tmp_path / "kill_in_save.py"
    driver.write_text(KILL_IN_SAVE)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(driver), ".tmp-step-00000004", *train_argv(small_tasks_dir, killed,
                                                                                           *args)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (killed / "latest").read_text() == "step-00000002"
    assert (killed / "checkpoints" / ".tmp-step-00000004").is_dir()  # killed mid-save, not before it
    assert [s for s, _, _ in losses(killed)] == [1, 2, 3, 4]

    assert main(train_argv(small_tasks_dir, killed, *args, "--resume", str(killed))) == 0
    straight, resumed = losses(tmp_path / "straight"), losses(killed)
    assert [s for s, _, _ in resumed] == [1, 2, 3, 4, 5, 6]  # steps 3-4 of the killed run are not kept twice
    for (step, *a), (_, *b) in zip(straight, resumed):
        assert b == pytest.approx(a, abs=1e-6), f"step {step}"
    assert len({round(loss, 6) for _, loss, _ in straight}) > 1  # the loss moves, so equality means something
    names = sorted(p.name for p in (killed / "checkpoints").iterdir())
    assert names == ["step-00000002", "step-00000004", "step-00000006"]  # the killed save's temp folder is gone
    last = killed / "checkpoints" / "step-00000006"
    ckpt.verify_checkpoint(last)
    listed = json.loads((last / "checksums.json").read_text())
    assert {"config.json", "model.safetensors", "optimizer.bin", "trained_on.json"} <= set(listed)


def test_disk_full_keeps_the_previous_checkpoint_and_stops_clearly(small_tasks_dir, tmp_path, monkeypatch):
    save_state = accelerate.Accelerator.save_state

    def fill_the_disk(self, output_dir=None, **kwargs):
        if output_dir.endswith("step-00000004"):
            os.makedirs(output_dir)
            with open(os.path.join(output_dir, "model.safetensors"), "wb") as f:
                f.write(b"\0" * 100)  # the write got this far
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save_state(self, output_dir, **kwargs)

    monkeypatch.setattr(accelerate.Accelerator, "save_state", fill_the_disk)
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(small_tasks_dir, run, max_steps=6, save_every=2, prompt_refresh=2))
    with pytest.raises(ckpt.CheckpointWriteError) as err:
        trainer.run()
    message = str(err.value)
    assert "No space left on device" in message and "step-00000002" in message and "--resume" in message
    assert "\n" not in message
    assert (run / "latest").read_text() == "step-00000002"
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000002"]  # no temp folder left
    ckpt.verify_checkpoint(run / "checkpoints" / "step-00000002")  # every file as it was saved


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, small_tasks_dir):
    """A run folder with one checkpoint (step 2), copied by each test before it is damaged."""
    from accelerate.state import AcceleratorState

    run = tmp_path_factory.mktemp("saved") / "run"
    AcceleratorState._reset_state(reset_partial_state=True)
    assert main(train_argv(small_tasks_dir, run, "--max-steps", "2")) == 0
    return run


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # tensor data, not the header: the file still parses
    path.write_bytes(bytes(data))


def garbage(path):
    path.write_bytes(b"\x00not what was saved\xff")


@pytest.mark.parametrize("name, damage, words", [
    ("model.safetensors", truncate, "not a readable safetensors file"),
    ("model.safetensors", flip_last_byte, "corrupted (its sha256 differs"),
    ("optimizer.bin", truncate, "truncated or overwritten"),
    ("optimizer.bin", flip_last_byte, "corrupted (its sha256 differs"),
    ("config.json", garbage, "not a readable JSON config"),
    ("checksums.json", garbage, "not a readable checksums file"),
], ids=["weights_truncated", "weights_flipped", "optimizer_truncated", "optimizer_flipped", "config", "checksums"])
def test_resume_from_a_damaged_checkpoint_says_which_file_in_one_line(saved_run, small_tasks_dir, tmp_path, capsys,
                                                                     name, damage, words):
    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    damage(run / "checkpoints" / "step-00000002" / name)
    assert main(train_argv(small_tasks_dir, run, "--max-steps", "3", "--resume", str(run))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: checkpoint ") and "Traceback" not in err[0], err
    assert f"step-00000002/{name}" in err[0] and words in err[0], err[0]


def test_resume_alone_takes_the_runs_saved_config(saved_run, small_tasks_dir, tmp_path):
    """`--resume RUN` without the original flags continues that run (its data, model, precision), exactly as
    repeating every flag does, instead of the default preset's data and model."""
    flags, bare = tmp_path / "flags", tmp_path / "bare"
    shutil.copytree(saved_run, flags)
    shutil.copytree(saved_run, bare)
    assert main(train_argv(small_tasks_dir, flags, "--max-steps", "4", "--resume", str(flags))) == 0
    assert main(["train", "--resume", str(bare), "--max-steps", "4"]) == 0
    saved = json.loads((bare / "config.json").read_text())
    assert saved["data"]["train"] == [str(small_tasks_dir)] and saved["out"] == str(bare)
    assert saved["model"] == json.loads((flags / "config.json").read_text())["model"]
    assert [s for s, _, _ in losses(bare)] == [1, 2, 3, 4] and losses(bare) == losses(flags)


def test_damaged_state_without_checksums_is_one_line_too(saved_run, small_tasks_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(saved_run, run)
    folder = run / "checkpoints" / "step-00000002"
    (folder / "checksums.json").unlink()  # as an older checkpoint
    garbage(folder / "optimizer.bin")
    assert main(train_argv(small_tasks_dir, run, "--max-steps", "3", "--resume", str(run))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{folder}: the training state does not load" in err[0], err


def test_a_nan_loss_is_skipped_counted_and_training_goes_on(small_tasks_dir, tmp_path, monkeypatch):
    efe_loss, calls = step_module.efe_loss, []

    def nan_on_third_call(*args, **kwargs):
        loss, terms = efe_loss(*args, **kwargs)
        calls.append(1)
        return (loss * float("nan") if len(calls) == 3 else loss), terms

    monkeypatch.setattr(step_module, "efe_loss", nan_on_third_call)
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(small_tasks_dir, run, max_steps=6, prompt_refresh=2))
    trainer.run()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 4, 5, 6]  # step 3 made no update and logged no loss
    assert [r["nonfinite_steps"] for r in records] == [0, 0, 1, 1, 1]
    assert all(torch.isfinite(torch.tensor(r["Loss"])) for r in records)
    system = trainer.accelerator.unwrap_model(trainer.system)
    assert all(torch.isfinite(p).all() for p in system.parameters())


def test_a_nan_prompt_is_not_cached_for_the_rest_of_its_window(small_tasks_dir, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(small_tasks_dir, tmp_path / "run", max_steps=4, prompt_refresh=2))
    encoder = trainer.accelerator.unwrap_model(trainer.system).encoder
    forward, calls = encoder.forward, []

    def nan_first_time(contexts):
        calls.append(1)
        prompt = forward(contexts)
        return prompt * float("nan") if len(calls) == 1 else prompt

    monkeypatch.setattr(encoder, "forward", nan_first_time)
    trainer.run()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # Step 1 is skipped; step 2 (same window) must run the encoder again, not reuse the NaN prompt.
    assert [(r["step"], r["refreshed"]) for r in records] == [(2, True), (3, True), (4, False)]
    assert records[-1]["nonfinite_steps"] == 1


def test_disk_full_at_the_command_line_is_one_line_and_exit_1(small_tasks_dir, tmp_path, monkeypatch, capsys):
    from arc_efe.cli.main import main

    def no_space(self, output_dir=None, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(accelerate.Accelerator, "save_state", no_space)
    argv = ["train", "--preset", "tiny", "--tasks", str(small_tasks_dir), "--max-steps", "2", "--save-every", "1",
            "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "No space left on device" in err[-1] and "Traceback" not in "".join(err)
