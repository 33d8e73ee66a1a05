"""The rule table's `specific` proposal (AgentConfig.rule_table_specific): the most specific agreeing exact key."""

import numpy as np
import pytest
import torch

from arc_efe.agent import AgentConfig, build_agent
from arc_efe.agent.exact_keys import KINDS, exact_keys, keys_and_fingerprints
from arc_efe.agent.rule_table import RuleTable
from arc_efe.data.task import Pair


def isolated_ones_turn_four(grid: np.ndarray) -> Pair:
    """A 1-cell with no 1 among its 8 neighbours turns 4; every other cell stays. The colour alone does not
    decide what a 1 becomes; its 3x3 neighbourhood does."""
    padded = np.pad(grid, 1)
    ones = sum(padded[1 + dr : 1 + dr + grid.shape[0], 1 + dc : 1 + dc + grid.shape[1]] == 1
               for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0))
    return Pair(grid, np.where((grid == 1) & (ones == 0), 4, grid))


def specific_only(table: RuleTable, demos: list[Pair], query: np.ndarray) -> torch.Tensor:
    """The `specific` logits alone [H, W, 10]: the dense proposal's gate set to zero."""
    grid = torch.from_numpy(query)[None]
    mask = torch.ones_like(grid, dtype=torch.bool)
    with torch.no_grad():
        table.gate.zero_()
        _, proposal = table.read(grid, mask, table.write([demos], torch.device("cpu")))
    return proposal[0]


def test_fingerprints_come_with_the_same_keys_and_tell_apart_what_one_bucket_holds():
    grid = torch.from_numpy(np.random.default_rng(0).integers(0, 4, size=(1, 6, 7)))
    mask = torch.ones_like(grid, dtype=torch.bool)
    keys, prints = keys_and_fingerprints(grid, mask, 1)  # one bucket per kind: every key collides
    assert torch.equal(keys, exact_keys(grid, mask, 1))
    assert prints.shape == (1, 6, 7, KINDS) and (prints[..., 0] == 0).all()
    assert ((prints >= 0) & (prints < 1)).all()
    absolute = exact_keys(grid, mask, 1 << 20)[..., 2]  # near enough to the unhashed keys here
    distinct_keys, distinct_prints = absolute.unique().numel(), prints[..., 2].unique().numel()
    assert distinct_keys > 10 and distinct_prints >= distinct_keys - 2  # 10-bit prints rarely collide


def test_the_most_specific_agreeing_key_decides():
    rng = np.random.default_rng(1)
    demos = [isolated_ones_turn_four(rng.choice([0, 0, 0, 0, 1], size=(h, w))) for h, w in ((6, 7), (7, 6), (8, 8))]
    query = isolated_ones_turn_four(rng.choice([0, 0, 0, 0, 1], size=(9, 9)))
    torch.manual_seed(0)
    table = RuleTable(4, channels=8, consistent=True, exact=4096, specific=True)
    logits = specific_only(table, demos, query.input)
    decided = logits.abs().sum(-1) > 0
    assert decided.float().mean() > 0.6  # most cells have a key the demos saw
    np.testing.assert_array_equal(logits.argmax(-1)[decided].numpy(), query.output[decided.numpy()])
    # colour 1 alone disagreed (some 1s turned 4): an edited 1 decides only through a neighbourhood the demos showed
    assert decided[torch.from_numpy(query.output != query.input)].any()


def test_a_key_that_only_shares_a_bucket_does_not_decide():
    table = RuleTable(2, channels=8, exact=4, specific=True)
    indexed = torch.zeros(1, 1, 1, KINDS, table.values + 1)
    indexed[..., :, -1] = float(np.log1p(3.0))  # each kind's slot holds 3 demo cells
    indexed[..., 0, 2] = 0.5 * 3 / 4  # the colour: half of them turned 2 (means divide by mass + 1)
    indexed[..., 1, 7] = 3 / 4  # the relative key: all turned 7
    indexed[..., 2, 5] = 3 / 4  # the absolute key: all turned 5, but they were another key's cells
    query = torch.tensor([0.0, 0.25, 0.5]).view(1, 1, 1, KINDS)
    held = query * 3 / 4
    held[..., 2] = 0.75 * 3 / 4
    with torch.no_grad():
        logits = table._specific(table._decide(indexed, held, query))[0, 0, 0]
    assert logits.argmax() == 7 and logits[7] == table.specific_gate[1, 1]  # relative kind, 2-3 cells
    indexed[..., 0, 2] = 3 / 4  # had the colour agreed too, the more specific relative key still decides
    with torch.no_grad():
        assert table._specific(table._decide(indexed, held, query))[0, 0, 0].argmax() == 7
    indexed[..., 0, 2] = 0.5 * 3 / 4
    held[..., 1] = 0.0  # now the relative slot is someone else's too, and the colour disagreed: no decision
    with torch.no_grad():
        assert table._specific(table._decide(indexed, held, query)).abs().sum() == 0


def test_config_and_table_width_with_the_specific_proposal():
    with pytest.raises(ValueError, match="rule_table_specific"):
        AgentConfig(rule_table=4, rule_table_specific=True).validate()
    with pytest.raises(ValueError, match="specific needs exact"):
        RuleTable(2, channels=8, specific=True)
    model = build_agent(AgentConfig(channels=8, prompt_dim=8, steps=1, heads=2, rule_table=4, rule_table_exact=8,
                                    rule_table_specific=True))
    table = model.rule_table
    assert table.dim == (table.slots + table.exact) * (table.values + 2)  # the fingerprint column
    assert table.specific_gate.shape == (KINDS, 3)
    out = model(torch.zeros(2, 5, 5, dtype=torch.long), torch.ones(2, 5, 5, dtype=torch.bool),
                torch.zeros(2, model.prompt_width))
    assert torch.isfinite(out.cell_logits).all()


def test_the_specific_input_embeds_the_decision_only_where_a_key_decides():
    with pytest.raises(ValueError, match="rule_table_specific_input"):
        AgentConfig(rule_table=4, rule_table_exact=8, rule_table_specific_input=True).validate()
    rng = np.random.default_rng(1)
    demos = [isolated_ones_turn_four(rng.choice([0, 0, 0, 0, 1], size=(6, 6))) for _ in range(3)]
    query = torch.from_numpy(isolated_ones_turn_four(rng.choice([0, 0, 0, 0, 1], size=(7, 7))).input)[None]
    mask = torch.ones_like(query, dtype=torch.bool)
    torch.manual_seed(0)
    plain = RuleTable(4, channels=8, exact=64, specific=True)
    torch.manual_seed(0)
    table = RuleTable(4, channels=8, exact=64, specific=True, specific_input=True)
    written = table.write([demos], torch.device("cpu"))
    with torch.no_grad():
        base, proposal = plain.read(query, mask, written)
        embedded, same = table.read(query, mask, written)
        empty, _ = table.read(query, mask, torch.zeros_like(written))
        torch.testing.assert_close(same, proposal)  # the logits are the `specific` table's
        assert (embedded - base).abs().sum() > 0  # the decision joins the input
        base_empty, _ = plain.read(query, mask, torch.zeros_like(written))
        # no demo, no decision: only the bias of the decision's embedding remains, the same at every cell
        offset = (empty - base_empty).flatten(0, 2)
        torch.testing.assert_close(offset, table.specific_embed.bias.expand_as(offset))
