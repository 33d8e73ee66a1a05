import numpy as np
import pytest
import torch

from arc_efe.data import Pair
from arc_efe.data.augment import Augmentation
from arc_efe.data.grid import NUM_COLORS
from arc_efe.encoder.config import EncoderConfig
from arc_efe.encoder.pair_compare import FEATURES, PairComparer, pair_features
from arc_efe.encoder.task_encoder import build_encoder

TINY = dict(hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=64, prompt_dim=16)
EQUAL = 2 * (NUM_COLORS + 1) + NUM_COLORS * NUM_COLORS  # first of the eight "output equals D8 image" channels
TRANSITION = 2 * (NUM_COLORS + 1)


def d8_task(rng: np.random.Generator, element: int, pairs: int = 3) -> list[Pair]:
    inputs = [rng.integers(0, 10, (3 + k, 5)) for k in range(pairs)]
    return [Pair(x, Augmentation(element).apply(x)) for x in inputs]


def test_features_mark_the_d8_image_the_output_equals_and_the_colour_transitions():
    """A quarter turn of a non-square input (the output is wider than the input, the turned image taller than
    the output) marks channel 1 at every output cell; a colour map fills exactly its transitions."""
    grid = np.arange(12).reshape(3, 4) % 10
    turned = Pair(grid, Augmentation(1).apply(grid))  # 4 x 3
    features, mask, scalars = pair_features(turned, 5, 6)
    assert features.shape == (FEATURES, 5, 6) and mask.shape == (5, 6)
    equal = features[EQUAL : EQUAL + 8]
    assert equal[1, :4, :3].all() and equal[1].sum() == 12  # rot90, on the output's 4 x 3 cells only
    assert equal[0].sum() < 12  # the identity matches only where the two happen to agree
    assert mask.sum() == 12 + 12 - 9 and not mask[4:].any() and not mask[:, 4:].any()  # union of 3x4 and 4x3
    assert scalars[1] == 1 and scalars[0] < 1  # pooled: the share of output cells equal to each D8 image
    np.testing.assert_allclose(scalars[-6:-2], [3 / 30, 4 / 30, 4 / 30, 3 / 30])

    mapped = Pair(grid, (grid + 1) % 10)
    transitions = pair_features(mapped, 3, 4)[0][TRANSITION : TRANSITION + 100].sum(axis=(1, 2))
    expected = np.zeros(100)
    for c in np.unique(grid):
        expected[c * 10 + (c + 1) % 10] = (grid == c).sum()
    np.testing.assert_array_equal(transitions, expected)


def test_scalars_give_each_colours_shift_in_position():
    """A cell of colour 3 falling from the top row to the bottom of a 4 x 3 grid: its centroid moves +1 in
    relative rows and 0 in columns; colour 0 (present in both) moves up a little; absent colours give 0."""
    before, after = np.zeros((4, 3), dtype=np.int64), np.zeros((4, 3), dtype=np.int64)
    before[0, 1], after[3, 1] = 3, 3
    shifts = pair_features(Pair(before, after), 4, 3)[2][8 + 100 + 20 : 8 + 100 + 40].reshape(NUM_COLORS, 2)
    np.testing.assert_allclose(shifts[3], [1.0, 0.0], atol=1e-6)
    assert shifts[0, 0] < 0 and abs(shifts[0, 1]) < 1e-6 and not shifts[4:].any()


def test_pair_without_output_is_refused():
    with pytest.raises(ValueError, match="outputs"):
        pair_features(Pair(np.zeros((2, 2), dtype=np.int64)), 2, 2)


def test_comparer_separates_tasks_that_differ_only_in_the_d8_element():
    """Same inputs, outputs under two D8 elements: the pair vectors differ (the LLM's mean-pooled tokens need
    not), and a task's vector does not depend on the canvas its batch happens to share."""
    torch.manual_seed(0)
    comparer = PairComparer(8, 4)
    flip, turn = d8_task(np.random.default_rng(1), 7), d8_task(np.random.default_rng(1), 2)
    vectors = comparer.pair_vectors(flip + turn)
    assert (vectors[:3] - vectors[3:]).abs().max() > 1e-3
    big = Pair(np.zeros((9, 9), dtype=np.int64), np.ones((9, 9), dtype=np.int64))
    torch.testing.assert_close(comparer.pair_vectors(flip + [big])[:3], vectors[:3], atol=1e-5, rtol=0)


def test_encoder_with_comparer_adds_its_part_to_the_plain_encoders_and_trains_it():
    """With its projection zeroed the encoder is the plain one (same LLM weights); the comparer trains in the
    always-trained group (so also under a frozen LLM); without the option there is no comparer, so old
    checkpoints load unchanged."""
    rng = np.random.default_rng(0)
    contexts = [d8_task(rng, 7), d8_task(rng, 2, pairs=2)]
    plain = build_encoder(EncoderConfig(**TINY))
    assert plain.pair_comparer is None and not any(k.startswith("pair_comparer") for k in plain.state_dict())
    paired = build_encoder(EncoderConfig(**TINY, pair_compare=True, pair_channels=8, train_mode="frozen"))
    paired.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        paired.pair_comparer.out.weight.zero_()
        paired.pair_comparer.out.bias.zero_()
    torch.testing.assert_close(paired(contexts), plain(contexts), atol=1e-6, rtol=0)
    trained = {id(p) for p in paired.projection_parameters()}
    assert all(id(p) in trained for p in paired.pair_comparer.parameters())
    weights = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))  # a sum alone has no gradient
    (paired(contexts) * weights).sum().backward()  # through the final LayerNorm, whose outputs sum to zero
    assert paired.pair_comparer.out.weight.grad.abs().sum() > 0
    with torch.no_grad():
        paired.pair_comparer.out.weight.normal_()
    prompts = paired(contexts)
    assert not torch.allclose(prompts, plain(contexts), atol=1e-3)
    (prompts * weights).sum().backward()
    assert paired.pair_comparer.cells[0].weight.grad.abs().sum() > 0


def test_prototypes_mix_learned_rows():
    """With K prototypes the prompt is a softmax mix of the table's rows: a sharp preference for row 3 gives
    row 3 for every task, and the logits and the table both get gradients."""
    torch.manual_seed(0)
    comparer = PairComparer(8, 4, prototypes=5)
    contexts = [d8_task(np.random.default_rng(0), 7), d8_task(np.random.default_rng(1), 2)]
    with torch.no_grad():
        comparer.out.weight.zero_()
        comparer.out.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 50.0, 0.0]))
    torch.testing.assert_close(comparer(contexts), comparer.table[3].expand(2, 4).detach())
    with torch.no_grad():
        comparer.out.bias.zero_()
        comparer.out.weight.normal_()
    (comparer(contexts) * torch.arange(4.0)).sum().backward()
    assert comparer.table.grad.abs().sum() > 0 and comparer.out.weight.grad.abs().sum() > 0


def test_standardised_part_has_unit_spread_over_tasks_and_solves_one_task_at_a_time():
    """Training mode: each dimension of the part has mean 0 and variance about 1 over the batch's tasks; eval mode
    uses the running statistics, so a task's prompt does not depend on the other tasks of its batch."""
    torch.manual_seed(0)
    comparer = PairComparer(8, 4, standardise=True)
    rng = np.random.default_rng(0)
    contexts = [d8_task(rng, int(k)) for k in rng.integers(0, 8, 12)]
    part = comparer(contexts)
    torch.testing.assert_close(part.mean(dim=0), torch.zeros(4), atol=1e-5, rtol=0)
    variance = part.var(dim=0, unbiased=False)  # v / (v + eps): under 1 where the raw spread is near BatchNorm's eps
    assert (variance <= 1).all() and (variance > 0.5).all()
    alone = comparer(contexts[:1])  # one task in training mode (a demo-half batch can be one task): running stats
    comparer.eval()
    torch.testing.assert_close(comparer(contexts[:1]), alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(comparer(contexts[:1]), comparer(contexts)[:1], atol=1e-5, rtol=0)


def test_without_the_llm_the_comparer_is_the_whole_prompt():
    """llm_in_prompt=False: the prompt is the comparer's output and the LLM gets no gradient."""
    contexts = [d8_task(np.random.default_rng(0), 7), d8_task(np.random.default_rng(0), 2)]
    encoder = build_encoder(EncoderConfig(**TINY, pair_compare=True, pair_channels=8, llm_in_prompt=False))
    prompts = encoder(contexts)
    torch.testing.assert_close(prompts, encoder.pair_comparer(contexts))
    (prompts * torch.arange(16.0)).sum().backward()
    assert all(p.grad is None for p in encoder.llm.parameters())


@pytest.mark.parametrize(
    "change, field",
    [(dict(pair_compare=True, pair_channels=0), "pair_channels"),
     (dict(llm_in_prompt=False), "llm_in_prompt"),
     (dict(pair_compare=True, pair_prototypes=-1), "pair_prototypes"),
     (dict(pair_compare=True, oracle_families=("d8_transform",)), "pair_compare")],
)
def test_config_validation_names_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        build_encoder(EncoderConfig(**{**TINY, **change}))
