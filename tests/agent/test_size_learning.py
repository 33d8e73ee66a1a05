"""The agent can learn a size-changing task: 2x nearest-neighbour upscaling of random 2..5 x 2..5
grids, trained with plain cross-entropy (cells of the final step, height/width of every step)."""

import pytest
import torch
import torch.nn.functional as F

from arc_efe.agent import AgentConfig, AgentOutput, GridAgent, build_agent

PROMPT_DIM = 8


def upscale_batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """inputs, input_mask, target, target_mask [n, 30, 30] and target size [n, 2]."""
    inputs = torch.zeros(n, 30, 30, dtype=torch.long)
    target = torch.zeros_like(inputs)
    input_mask = torch.zeros(n, 30, 30, dtype=torch.bool)
    target_mask = torch.zeros_like(input_mask)
    size = torch.zeros(n, 2, dtype=torch.long)
    for i in range(n):
        h, w = torch.randint(2, 6, (2,), generator=gen).tolist()
        grid = torch.randint(0, 10, (h, w), generator=gen)
        inputs[i, :h, :w], input_mask[i, :h, :w] = grid, True
        target[i, : 2 * h, : 2 * w] = grid.repeat_interleave(2, 0).repeat_interleave(2, 1)
        target_mask[i, : 2 * h, : 2 * w] = True
        size[i] = torch.tensor([2 * h, 2 * w])
    return inputs, input_mask, target, target_mask, size


def loss_fn(out: AgentOutput, target: torch.Tensor, target_mask: torch.Tensor,
            size: torch.Tensor) -> torch.Tensor:
    # Size is trained at every step: each step's argmax size is the next step's output-size guess.
    steps = out.steps
    height = F.cross_entropy(out.height_logits.flatten(0, 1), (size[:, 0] - 1).repeat_interleave(steps))
    width = F.cross_entropy(out.width_logits.flatten(0, 1), (size[:, 1] - 1).repeat_interleave(steps))
    cells = F.cross_entropy(out.cell_logits[:, -1][target_mask], target[target_mask])
    return cells + height + width


def train(agent: GridAgent, updates: int, batch: int, lr: float) -> None:
    gen = torch.Generator().manual_seed(1)
    prompt = torch.randn(1, PROMPT_DIM, generator=gen).expand(batch, -1)
    opt = torch.optim.AdamW(agent.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=updates, pct_start=0.1)
    agent.train()
    for _ in range(updates):
        inputs, input_mask, target, target_mask, size = upscale_batch(batch, gen)
        loss = loss_fn(agent(inputs, input_mask, prompt), target, target_mask, size)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(agent.parameters(), 1.0)
        opt.step()
        schedule.step()


def evaluate(agent: GridAgent, n: int = 100) -> tuple[float, float]:
    """(size accuracy, exact-output rate) on fresh samples; exact means the argmax grid cropped to
    the predicted size equals the target."""
    gen = torch.Generator().manual_seed(99)
    prompt = torch.randn(1, PROMPT_DIM, generator=torch.Generator().manual_seed(1)).expand(n, -1)
    inputs, input_mask, target, target_mask, size = upscale_batch(n, gen)
    agent.eval()
    with torch.no_grad():
        grid, predicted = agent(inputs, input_mask, prompt).predict()
    size_ok = (predicted == size).all(dim=1)
    cells_ok = ((grid == target) | ~target_mask).all(dim=2).all(dim=1)
    return size_ok.float().mean().item(), (size_ok & cells_ok).float().mean().item()


def tiny_agent() -> GridAgent:
    return build_agent(AgentConfig(channels=32, prompt_dim=PROMPT_DIM, steps=2, blocks_per_step=1, heads=2))


@pytest.fixture
def one_thread():
    """One intra-op thread: the same float reduction order on every machine (a training trajectory
    is sensitive to it), and no spinning worker threads when the cores are shared (3-5x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_learns_2x_upscaling_exactly(one_thread):
    # ~15 s on one core; 100 % exact here and with two other init seeds, 63-93 % after 120 updates.
    agent = tiny_agent()
    train(agent, updates=150, batch=8, lr=1e-2)
    size_accuracy, exact = evaluate(agent)
    assert size_accuracy >= 0.9 and exact >= 0.9, (size_accuracy, exact)


def test_predict_gives_sizes_1_to_30():
    agent = tiny_agent().eval()
    inputs, input_mask, *_ = upscale_batch(4, torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = agent(inputs, input_mask, torch.randn(4, PROMPT_DIM))
    grid, size = out.predict()
    assert grid.shape == (4, 30, 30) and size.shape == (4, 2)
    assert ((size >= 1) & (size <= 30)).all()
    # Class k means size k + 1: the extreme classes give 1 and 30.
    out.height_logits[:, -1] = F.one_hot(torch.tensor([0, 29, 0, 29]), 30).float()
    assert out.predict()[1][:, 0].tolist() == [1, 30, 1, 30]
