"""`arc-efe train` rejects impossible device/precision choices with one line, before any training."""

import pytest
import torch
from accelerate.state import AcceleratorState

from arc_efe.cli.main import main


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("flags, fragment", [
    (["--device", "cuda"], "torch sees no CUDA device"),
    (["--device", "cpu", "--precision", "fp16"], "fp16 needs a CUDA device"),
])
def test_impossible_device_or_precision_is_one_clear_line(tmp_path, capsys, flags, fragment):
    # The prototype's own command line, on a CPU-only machine.
    argv = ["train", "--epochs", "10", "--agent_lr", "1e-5", "--qwen_lr", "5e-5", "--out", str(tmp_path / "r"), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "Traceback" not in err


def test_unknown_override_is_named(tmp_path, capsys):
    assert main(["train", "--set", "model.agent.chanels=8", "--out", str(tmp_path / "r")]) == 2
    assert "unknown key(s) ['chanels']" in capsys.readouterr().err


def test_the_status_notes_flag_names_set_the_encoder_lr():
    from arc_efe.cli.main import build_parser
    from arc_efe.cli.train_args import config_from_args

    for flag in ("--qwen_lr", "--qwen-lr", "--encoder-lr"):
        args = build_parser().parse_args(["train", flag, "5e-5", "--agent_lr", "1e-5"])
        optim = config_from_args(args).optim
        assert (optim.encoder_lr, optim.agent_lr) == (5e-5, 1e-5), flag
