"""GridAgent: output shapes, global receptive field, prompt conditioning, weight tying, the backward
pass, padding independence, canvas invariance, input copies, bf16 autocast and input checks."""

import pytest
import torch

from arc_efe.agent import AgentConfig, AgentOutput, GridAgent, build_agent
from arc_efe.agent.heads import masked_pool
from arc_efe.agent.input_copies import d8_copies, grid_size, input_copies
from arc_efe.data.augment import Augmentation

B, P = 2, 8


def tiny(**overrides) -> GridAgent:
    cfg = AgentConfig(channels=16, prompt_dim=P, steps=4, blocks_per_step=2, heads=2)
    for name, value in overrides.items():
        setattr(cfg, name, value)
    return build_agent(cfg).eval()


def grids(height: int, width: int, batch: int = B) -> tuple[torch.Tensor, torch.Tensor]:
    """Random colours everywhere (padding included), valid only in the top-left height x width."""
    inputs = torch.randint(0, 10, (batch, 30, 30))
    mask = torch.zeros(batch, 30, 30, dtype=torch.bool)
    mask[:, :height, :width] = True
    return inputs, mask


@pytest.mark.parametrize("steps", [None, 2])
def test_output_shapes(steps):
    agent = tiny()
    inputs, mask = grids(3, 5)
    out = agent(inputs, mask, torch.randn(B, P), steps=steps)
    t = 4 if steps is None else steps
    assert isinstance(out, AgentOutput) and out.steps == t
    assert out.cell_logits.shape == (B, t, 30, 30, 10)
    assert out.height_logits.shape == (B, t, 30)
    assert out.width_logits.shape == (B, t, 30)
    assert out.halt_logits.shape == (B, t)
    assert out.confidence_logits.shape == (B, t, 30, 30)
    assert agent.backward_beliefs(inputs, mask, torch.randn(B, P), steps=steps).shape == (B, t, 30, 30, 10)


def test_a_given_output_size_is_every_steps_guess_and_the_predicted_size():
    torch.manual_seed(0)
    agent = tiny()
    inputs, mask = grids(3, 5)
    prompt = torch.randn(B, P)
    free = agent(inputs, mask, prompt)
    heads = torch.stack([free.height_logits[:, -1].argmax(-1), free.width_logits[:, -1].argmax(-1)], -1) + 1
    assert torch.equal(free.predict()[1], heads) and free.given_size is None
    given = torch.tensor([[6, 10], [1, 1]])
    told = agent(inputs, mask, prompt, out_size=given)
    assert torch.equal(told.predict()[1], given)
    assert not torch.allclose(told.cell_logits, free.cell_logits)  # the guess reaches the core
    with pytest.raises(ValueError, match="out_size"):
        agent(inputs, mask, prompt, out_size=torch.tensor([[6, 10]]))


@pytest.mark.parametrize("mixing", ["attention", "pool"])
def test_receptive_field_is_global(mixing):
    agent = tiny(mixing=mixing)
    inputs, mask = grids(30, 30, batch=1)
    prompt = torch.randn(1, P)
    for changed, watched in (((0, 0), (29, 29)), ((29, 29), (0, 0))):
        other = inputs.clone()
        other[0, changed[0], changed[1]] = (inputs[0, changed[0], changed[1]] + 1) % 10
        with torch.no_grad():
            before = agent(inputs, mask, prompt).cell_logits[0, -1, watched[0], watched[1]]
            after = agent(other, mask, prompt).cell_logits[0, -1, watched[0], watched[1]]
        assert (before - after).abs().max() > 1e-6, f"{mixing}: cell {watched} ignores input cell {changed}"


def test_prompt_conditions_the_output_with_gradient():
    agent = tiny()
    inputs, mask = grids(4, 4, batch=1)
    with torch.no_grad():
        a = agent(inputs, mask, torch.randn(1, P)).cell_logits
        b = agent(inputs, mask, torch.randn(1, P)).cell_logits
    assert (a - b).abs().max() > 1e-4
    prompt = torch.randn(1, P, requires_grad=True)
    agent(inputs, mask, prompt).cell_logits[..., :4, :4, :].square().sum().backward()
    assert prompt.grad is not None and prompt.grad.abs().sum() > 0


def test_a_prompt_blind_agent_ignores_the_prompt_in_both_passes():
    agent = tiny(reads_prompt=False)
    inputs, mask = grids(4, 4, batch=1)
    first, second = torch.randn(1, P), torch.randn(1, P)
    with torch.no_grad():
        assert torch.equal(agent(inputs, mask, first).cell_logits, agent(inputs, mask, second).cell_logits)
        assert torch.equal(agent.backward_beliefs(inputs, mask, first), agent.backward_beliefs(inputs, mask, second))
    with pytest.raises(ValueError, match="reads_prompt"):
        build_agent(AgentConfig(reads_prompt="no"))


def test_prompt_pointer_maps_start_as_no_change_then_let_the_prompt_steer_attention():
    """Zero maps give exactly the plain agent's outputs (same shared weights); once the maps are non-zero the
    output depends on the prompt through them, they train, and a blind agent still ignores the prompt. Without
    the option there are no new weights, so old checkpoints load."""
    torch.manual_seed(0)
    steered, plain = tiny(prompt_pointers=3), tiny()
    assert not any("maps" in k or "pointer_mix" in k for k in plain.state_dict())
    missing = plain.load_state_dict(steered.state_dict(), strict=False).unexpected_keys
    assert sorted(missing) == sorted(["pointer_mix.weight", "pointer_mix.bias"]
                                     + [f"blocks.{i}.mix.maps" for i in range(len(plain.blocks))])
    inputs, mask = grids(4, 5)
    prompt = torch.randn(B, P)
    torch.testing.assert_close(steered(inputs, mask, prompt).cell_logits, plain(inputs, mask, prompt).cell_logits)
    with torch.no_grad():
        for block in steered.blocks:
            block.mix.maps.normal_()
        steered.film.proj.weight.zero_()  # FiLM reads nothing: only the maps carry the prompt
    first, second = steered(inputs, mask, prompt).cell_logits, steered(inputs, mask, -prompt).cell_logits
    assert (first - second).abs().max() > 1e-4
    first.square().mean().backward()
    assert steered.blocks[0].mix.maps.grad.abs().sum() > 0 and steered.pointer_mix.weight.grad.abs().sum() > 0
    blind = tiny(prompt_pointers=3, reads_prompt=False)
    with torch.no_grad():
        for block in blind.blocks:
            block.mix.maps.normal_()
        assert torch.equal(blind(inputs, mask, prompt).cell_logits, blind(inputs, mask, -prompt).cell_logits)
    for bad in (dict(prompt_pointers=-1), dict(prompt_pointers=2, mixing="pool")):
        with pytest.raises(ValueError, match="prompt_pointers"):
            build_agent(AgentConfig(**bad))


def test_weights_are_tied_across_steps():
    counts = {steps: sum(p.numel() for p in tiny(steps=steps).parameters()) for steps in (1, 4, 9)}
    assert len(set(counts.values())) == 1, counts


def test_backward_beliefs_use_the_same_core_and_a_direction_embedding():
    agent = tiny()
    goal, mask = grids(5, 3)
    prompt = torch.randn(B, P)
    backward = agent.backward_beliefs(goal, mask, prompt)
    core_weight = agent.blocks[0].mlp[0].weight
    backward.square().mean().backward()
    assert core_weight.grad is not None and core_weight.grad.abs().sum() > 0

    with torch.no_grad():
        forward_one = agent(goal, mask, prompt, steps=1).cell_logits[:, 0]
        backward_one = agent.backward_beliefs(goal, mask, prompt, steps=1)[:, 0]
        assert (forward_one - backward_one).abs().max() > 1e-4
        # With equal direction embeddings one step of each pass is the same computation.
        agent.embed.direction.weight[1] = agent.embed.direction.weight[0]
        backward_same = agent.backward_beliefs(goal, mask, prompt, steps=1)[:, 0]
    torch.testing.assert_close(forward_one, backward_same)


def test_backward_beliefs_are_ordered_like_forward_steps():
    agent = tiny()
    goal, mask = grids(3, 3)
    prompt = torch.randn(B, P)
    with torch.no_grad():
        two = agent.backward_beliefs(goal, mask, prompt, steps=2)
        one = agent.backward_beliefs(goal, mask, prompt, steps=1)
    # The backward pass's first step is stored last, next to the forward pass's final step.
    torch.testing.assert_close(two[:, 1], one[:, 0])
    assert (two[:, 0] - one[:, 0]).abs().max() > 1e-4


@pytest.mark.parametrize("elements", [(), (1, 4, 7)])
def test_padding_values_do_not_matter(elements):
    agent = tiny(d8_copies=elements)
    inputs, mask = grids(3, 3)
    other = torch.where(mask, inputs, torch.randint(0, 10, inputs.shape))
    assert not torch.equal(other, inputs)
    prompt = torch.randn(B, P)
    with torch.no_grad():
        a, b = agent(inputs, mask, prompt), agent(other, mask, prompt)
        back_a = agent.backward_beliefs(inputs, mask, prompt)
        back_b = agent.backward_beliefs(other, mask, prompt)
    inside = (slice(None), slice(None), slice(0, 3), slice(0, 3))
    torch.testing.assert_close(a.cell_logits[inside], b.cell_logits[inside], rtol=0, atol=1e-6)
    torch.testing.assert_close(a.height_logits, b.height_logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(back_a, back_b, rtol=0, atol=1e-6)


def small_size_guesses(agent: GridAgent, limit: int) -> None:
    """Push every size guess below `limit` while keeping it input-dependent, so an S >= limit canvas
    covers the active region at every step."""
    with torch.no_grad():
        bias = agent.heads.pooled[-1].bias  # height (30), width (30), halt (1)
        bias[limit:30] -= 100.0
        bias[30 + limit : 60] -= 100.0


@pytest.mark.parametrize("mixing, elements", [("attention", ()), ("pool", ()), ("attention", (1, 2, 3, 4, 5, 6, 7))])
def test_small_canvas_equals_the_cropped_full_canvas(mixing, elements):
    torch.manual_seed(0)
    agent = tiny(mixing=mixing, d8_copies=elements)
    small_size_guesses(agent, limit=12)
    batch, canvas = 4, 12
    inputs = torch.randint(0, 10, (batch, 30, 30))
    mask = torch.zeros(batch, 30, 30, dtype=torch.bool)
    for b, (h, w) in enumerate([(3, 8), (8, 8), (1, 1), (5, 2)]):
        mask[b, :h, :w] = True
    prompt = torch.randn(batch, P)
    crop = (slice(None), slice(None), slice(0, canvas), slice(0, canvas))
    with torch.no_grad():
        full = agent(inputs, mask, prompt)
        small = agent(inputs[:, :canvas, :canvas], mask[:, :canvas, :canvas], prompt)
        back_full = agent.backward_beliefs(inputs, mask, prompt)
        back_small = agent.backward_beliefs(inputs[:, :canvas, :canvas], mask[:, :canvas, :canvas], prompt)
    guesses = torch.stack([full.height_logits.argmax(-1), full.width_logits.argmax(-1)], -1) + 1  # [B, T, 2]
    assert guesses.max() <= canvas and guesses.unique().numel() > 2, guesses  # regions grow and differ
    assert small.cell_logits.shape == (batch, 4, canvas, canvas, 10)
    for name in ("cell_logits", "confidence_logits"):
        torch.testing.assert_close(getattr(small, name), getattr(full, name)[crop], rtol=0, atol=1e-4)
    for name in ("height_logits", "width_logits", "halt_logits"):
        torch.testing.assert_close(getattr(small, name), getattr(full, name), rtol=0, atol=1e-4)
    torch.testing.assert_close(back_small, back_full[crop], rtol=0, atol=1e-4)


def test_first_step_sees_only_the_input_box():
    # Step 1's region is the input box whatever the random sizes predicted later: state outside it,
    # even on the same canvas, must not leak in.
    torch.manual_seed(1)
    agent = tiny()
    inputs, mask = grids(4, 6)
    prompt = torch.randn(B, P)
    with torch.no_grad():
        full = agent(inputs, mask, prompt, steps=1)
        small = agent(inputs[:, :6, :6], mask[:, :6, :6], prompt, steps=1)
    torch.testing.assert_close(small.cell_logits, full.cell_logits[:, :, :6, :6], rtol=0, atol=1e-4)
    torch.testing.assert_close(small.height_logits, full.height_logits, rtol=0, atol=1e-4)


def test_masked_pool_sees_only_valid_cells():
    x = torch.randn(1, 30, 30, 4)
    x[0, 10:, :] += 100.0  # large values outside the valid rows must not reach the max or the mean
    mask = torch.zeros(1, 30, 30, dtype=torch.bool)
    mask[0, :2, :5] = True
    valid = x[0, :2, :5].reshape(-1, 4)
    torch.testing.assert_close(masked_pool(x, mask)[0], torch.cat([valid.mean(0), valid.amax(0)]))


def test_empty_mask_gives_finite_outputs():
    agent = tiny()
    inputs = torch.randint(0, 10, (B, 30, 30))
    out = agent(inputs, torch.zeros(B, 30, 30, dtype=torch.bool), torch.randn(B, P))
    assert all(torch.isfinite(t).all() for t in (out.cell_logits, out.height_logits, out.halt_logits))


def test_runs_under_bf16_autocast_with_gradients():
    agent = tiny().train()
    inputs, mask = grids(4, 6)
    prompt = torch.randn(B, P, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = agent(inputs, mask, prompt)
        backward = agent.backward_beliefs(inputs, mask, prompt)
    loss = out.cell_logits.float().logsumexp(-1).mean() + out.height_logits.float().mean()
    loss = loss + backward.float().mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert prompt.grad is not None and prompt.grad.abs().sum() > 0
    assert all(p.grad is not None for p in agent.blocks.parameters())


def test_input_copies_resize_and_tile_onto_the_output_size():
    grid = torch.zeros(1, 30, 30, dtype=torch.long)
    mask = torch.zeros(1, 30, 30, dtype=torch.bool)
    grid[0, :2, :3] = torch.tensor([[1, 2, 3], [4, 5, 6]])
    mask[0, :2, :3] = True
    assert grid_size(mask).tolist() == [[2, 3]]
    resized, tiled = input_copies(grid, mask, torch.tensor([[4, 6]]), pad=10)
    upscaled = grid[0, :2, :3].repeat_interleave(2, 0).repeat_interleave(2, 1)
    assert torch.equal(resized[0, :4, :6], upscaled)
    assert torch.equal(tiled[0, :4, :6], grid[0, :2, :3].repeat(2, 2))
    assert (resized[0, 4:] == 10).all() and (tiled[0, :, 6:] == 10).all()
    shrunk, _ = input_copies(grid, mask, torch.tensor([[1, 1]]), pad=10)
    assert shrunk[0, 0, 0] == 1 and (shrunk.flatten()[1:] == 10).all()


def test_d8_copies_are_the_augmentation_images_on_the_output_canvas():
    """Each copy equals arc_efe.data.augment's image of the grid, cut to the output size; cells outside it pad."""
    grid = torch.randint(0, 10, (2, 30, 30))
    mask = torch.zeros(2, 30, 30, dtype=torch.bool)
    mask[0, :2, :3], mask[1, :4, :1] = True, True
    sizes = [(2, 3), (4, 1)]
    elements = tuple(range(1, 8))
    out_size = torch.tensor([[3, 3], [4, 4]])  # holds each image: both shapes fit, the rest is pad
    copies = d8_copies(grid, mask, out_size, 10, elements)
    assert copies.shape == (7, 2, 30, 30)
    for k, element in enumerate(elements):
        for b, (h, w) in enumerate(sizes):
            image = torch.from_numpy(Augmentation(element).apply(grid[b, :h, :w].numpy()).copy())
            ih, iw = image.shape
            assert torch.equal(copies[k, b, :ih, :iw], image), (element, b)
            outside = torch.ones(30, 30, dtype=torch.bool)
            outside[:ih, :iw] = False
            assert (copies[k, b][outside] == 10).all(), (element, b)
    clipped = d8_copies(grid, mask, torch.tensor([[1, 2], [1, 1]]), 10, (7,))  # a smaller output shows what fits
    assert torch.equal(clipped[0, 0, 0, :2], grid[0, 0, :3].flip(0)[:2])
    assert (clipped[0, 0, 1:] == 10).all() and (clipped[0, 0, 0, 2:] == 10).all()


def test_d8_copies_are_opt_in_and_reach_the_output():
    plain, with_copies = tiny(), tiny(d8_copies=(4, 7))
    assert sorted(set(with_copies.state_dict()) - set(plain.state_dict())) == ["embed.d8.weight"]
    assert with_copies.embed.d8.weight.shape == (2 * 11, 16)
    inputs, mask = grids(3, 5)
    prompt = torch.randn(B, P)
    with_copies.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        differ = with_copies(inputs, mask, prompt).cell_logits - plain(inputs, mask, prompt).cell_logits
        with_copies.embed.d8.weight.zero_()
        same = with_copies(inputs, mask, prompt).cell_logits - plain(inputs, mask, prompt).cell_logits
    assert differ.abs().max() > 1e-4 and same.abs().max() < 1e-6
    for bad in (True, (0,), (8,), (4, 4), "4"):
        with pytest.raises(ValueError, match="d8_copies"):
            build_agent(AgentConfig(d8_copies=bad))


@pytest.mark.parametrize(
    "field, value, fragment",
    [("mixing", "conv", "mixing"), ("heads", 3, "heads=3"), ("kernel_size", 2, "kernel_size"),
     ("steps", 0, "steps")],
)
def test_config_validation_names_the_field(field, value, fragment):
    cfg = AgentConfig(channels=16, prompt_dim=P)
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=fragment):
        build_agent(cfg)


def test_bad_inputs_name_the_shapes():
    agent = tiny()
    inputs, mask = grids(2, 2)
    with pytest.raises(ValueError, match=r"prompt must be \[2, 8\].*got \(2, 7\)"):
        agent(inputs, mask, torch.randn(B, 7))
    with pytest.raises(ValueError, match=r"inputs must be long \[B, S, S\] with 1 <= S <= 30, got torch.float32"):
        agent(inputs.float(), mask, torch.randn(B, P))
    with pytest.raises(ValueError, match=r"got torch.int64 \(2, 30, 12\)"):
        agent(inputs[:, :, :12], mask[:, :, :12], torch.randn(B, P))
    with pytest.raises(ValueError, match=r"S <= 30, got torch.int64 \(2, 31, 31\)"):
        agent(torch.zeros(B, 31, 31, dtype=torch.long), torch.ones(B, 31, 31, dtype=torch.bool), torch.randn(B, P))
    with pytest.raises(ValueError, match=r"inputs mask must be bool \(2, 12, 12\)"):
        agent(inputs[:, :12, :12], mask, torch.randn(B, P))
    with pytest.raises(ValueError, match="goal mask must be bool"):
        agent.backward_beliefs(inputs, mask.long(), torch.randn(B, P))
    with pytest.raises(ValueError, match="steps must be >= 1"):
        agent(inputs, mask, torch.randn(B, P), steps=0)
