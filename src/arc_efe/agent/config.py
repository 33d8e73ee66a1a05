"""AgentConfig: the grid agent's hyper-parameters, validated before anything is built."""

from __future__ import annotations

from dataclasses import dataclass

MIXING_KINDS = ("attention", "pool")


@dataclass
class AgentConfig:
    """Sizes of the recurrent grid agent.

    `mixing` picks how each block reaches the whole canvas: "attention" is criss-cross axial attention
    (half the heads attend along the cell's row, half along its column, content scores plus learned
    per-line pointer logits), which can move content to any position, e.g. for flips; "pool"
    broadcasts row and column means back (cheaper, cannot route content).

    `reads_prompt` False makes a prompt-blind baseline: the agent gets a zero prompt wherever it is
    called, so training it with the same data and schedule measures what the encoder's prompt adds.

    `prompt_pointers` K > 0 gives each attention block K extra pointer maps, mixed per sample by weights read
    from the prompt, so the prompt can choose where a cell's attention points (which mirror, which shift),
    not only rescale what the pointer logits read, as FiLM does. 0 (the default): no maps, no new weights.

    `d8_copies` lists D8 elements (arc_efe.data.augment's numbering 1..7: 1 rot90, 2 rot180, 3 rot270,
    4 transpose, 5 up-down flip, 6 anti-transpose, 7 left-right flip) whose images of the input join the copies fed
    at every step (input_copies.py), so applying one is a local read instead of one to three attention hops.
    Empty (the default): no new weights.

    `rule_table` K > 0 gives the agent a table written from the demonstrations cell by cell (rule_table.py:
    what demo outputs hold at cells of each kind, in 50 fixed slots and K learned ones), carried as the
    prompt's last (50 + K) * 12 numbers and read per query cell as an extra input and a proposal on its colour
    logits. 0 (the default): no table.

    `rule_table_context` (needs `rule_table` > 0) adds cell_context.py's line and object features to the table:
    which learned slot a cell falls in may depend on the nearest coloured cell along each of 8 lines and on its
    object's size, and a slot may say "take the colour of the nearest coloured cell along line d". False (the
    default): the table as before. With it each slot takes 20 numbers instead of 12. `rule_table_line_slots`
    (needs the context) adds 16 fixed slots: a background or a coloured cell that sees a coloured cell along line d.
    `rule_table_consistent` (needs `rule_table` > 0) makes the table's proposal a mean of the cell's slots weighted
    by how consistent each slot's demo cells were, instead of their sum (7 more weights: its sharpness and a trust
    per group of slots). `rule_table_exact` N > 0 (needs `rule_table` > 0) adds 10 + 2N exact slots
    (exact_keys.py): one per cell colour, and N hash buckets each for the cell's colour with its 3x3 neighbourhood
    as same/background/other and as colours, so a colour map or a local rewrite the demos state cell by cell has
    slots of its own. Each slot adds its 12 or 20 numbers to the prompt. 0 (the default): none.
    `rule_table_induced` N > 0 (needs `rule_table` > 0) adds induced_rules.py's per-task rules: up to 3 key kinds
    (a cell's colour with its object's size, shape, holes or rank, its row's colours, its 5x5 window, ...) that the
    demos' outputs are a function of, hashed into N buckets each (10 + 3 * (2 + 2N) more prompt numbers, 10 weights);
    a cell they decide gets that colour as a gated proposal. 0 (the default): none. `rule_table_induced_views`
    (needs `rule_table_induced`) adds 11 key kinds: the colour of a cell's D8 image (on grids it keeps the shape
    of) and of each side neighbour, with its own, so a flip, a symmetry completion or a one-cell shift is a rule
    too. No new weights; False (the default): the 30 kinds alone. `rule_table_induced_canvas` (needs
    `rule_table_induced`) adds the demos' output size as a function of the input's size or as the box of a selected
    part of it (9 more prompt numbers), proposed to the size logits with one learned gate, and where demos change
    size, 25 kinds that describe an output cell by the input colours a scaling, a tiling (plain or mirrored), a
    crop, a D8 image or an overlay of two halves reads it from (and 3 colour-free kinds of the two-colour ones).
    False (the default): neither. `rule_table_induced_blind` (needs `rule_table_induced`) adds 31 kinds keyed
    without the cell's colour (its 3x3 pattern, object keys, row, column, parity, border distance, contact, object
    count, same-coloured sides, and whether it is background) whose rules may answer "unchanged", and 175 copy
    kinds (the grid's period, a D8 image, a D8 image filling the background, the grid moved by up to 4 cells):
    rules that hold for colours no demo showed. No new weights.
    """

    channels: int = 64
    prompt_dim: int = 256
    steps: int = 4
    blocks_per_step: int = 2
    heads: int = 4
    kernel_size: int = 3
    mlp_ratio: int = 2
    mixing: str = "attention"
    reads_prompt: bool = True
    prompt_pointers: int = 0
    d8_copies: tuple[int, ...] = ()
    rule_table: int = 0
    rule_table_context: bool = False
    rule_table_line_slots: bool = False
    rule_table_consistent: bool = False
    rule_table_exact: int = 0
    rule_table_specific: bool = False
    rule_table_specific_input: bool = False
    rule_table_induced: int = 0
    rule_table_induced_views: bool = False
    rule_table_induced_canvas: bool = False
    rule_table_induced_blind: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the offending field; call before building."""
        for name in ("channels", "prompt_dim", "steps", "blocks_per_step", "heads", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"AgentConfig.{name} must be a positive int, got {value!r}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"AgentConfig.kernel_size must be odd and positive, got {self.kernel_size}")
        if not isinstance(self.prompt_pointers, int) or self.prompt_pointers < 0:
            raise ValueError(f"AgentConfig.prompt_pointers must be an int >= 0, got {self.prompt_pointers!r}")
        if self.prompt_pointers and self.mixing != "attention":
            raise ValueError("AgentConfig.prompt_pointers needs mixing='attention' (pointer logits live there)")
        elements = list(self.d8_copies) if isinstance(self.d8_copies, (list, tuple)) else None
        if elements is None or any(not isinstance(k, int) or not 1 <= k <= 7 for k in elements) \
                or len(set(elements)) != len(elements):
            raise ValueError(f"AgentConfig.d8_copies must list distinct D8 elements 1..7, got {self.d8_copies!r}")
        if not isinstance(self.rule_table, int) or self.rule_table < 0:
            raise ValueError(f"AgentConfig.rule_table must be an int >= 0, got {self.rule_table!r}")
        if not isinstance(self.rule_table_context, bool) or (self.rule_table_context and not self.rule_table):
            raise ValueError(f"AgentConfig.rule_table_context must be a bool and needs rule_table > 0, got "
                             f"{self.rule_table_context!r} with rule_table={self.rule_table!r}")
        lines = self.rule_table_line_slots
        if not isinstance(lines, bool) or (lines and not self.rule_table_context):
            raise ValueError(f"AgentConfig.rule_table_line_slots must be a bool and needs rule_table_context, got "
                             f"{self.rule_table_line_slots!r}")
        consistent = self.rule_table_consistent
        if not isinstance(consistent, bool) or (consistent and not self.rule_table):
            raise ValueError(f"AgentConfig.rule_table_consistent must be a bool and needs rule_table > 0, got "
                             f"{consistent!r} with rule_table={self.rule_table!r}")
        exact = self.rule_table_exact
        if not isinstance(exact, int) or isinstance(exact, bool) or exact < 0 or (exact and not self.rule_table):
            raise ValueError(f"AgentConfig.rule_table_exact must be an int >= 0 and needs rule_table > 0, got "
                             f"{exact!r} with rule_table={self.rule_table!r}")
        specific = self.rule_table_specific
        if not isinstance(specific, bool) or (specific and not exact):
            raise ValueError(f"AgentConfig.rule_table_specific must be a bool and needs rule_table_exact > 0, got "
                             f"{specific!r} with rule_table_exact={exact!r}")
        specific_input = self.rule_table_specific_input
        if not isinstance(specific_input, bool) or (specific_input and not specific):
            raise ValueError(f"AgentConfig.rule_table_specific_input must be a bool and needs rule_table_specific, "
                             f"got {specific_input!r} with rule_table_specific={specific!r}")
        induced = self.rule_table_induced
        if (not isinstance(induced, int) or isinstance(induced, bool) or induced < 0
                or (induced and not self.rule_table)):
            raise ValueError(f"AgentConfig.rule_table_induced must be an int >= 0 and needs rule_table > 0, got "
                             f"{induced!r} with rule_table={self.rule_table!r}")
        for name in ("rule_table_induced_views", "rule_table_induced_canvas", "rule_table_induced_blind"):
            flag = getattr(self, name)
            if not isinstance(flag, bool) or (flag and not induced):
                raise ValueError(f"AgentConfig.{name} must be a bool and needs rule_table_induced > 0, "
                                 f"got {flag!r} with rule_table_induced={induced!r}")
        if not isinstance(self.reads_prompt, bool):
            raise ValueError(f"AgentConfig.reads_prompt must be a bool, got {self.reads_prompt!r}")
        if self.mixing not in MIXING_KINDS:
            raise ValueError(f"AgentConfig.mixing must be one of {MIXING_KINDS}, got {self.mixing!r}")
        if self.mixing == "attention" and (self.heads % 2 or self.channels % self.heads):
            raise ValueError(
                f"AgentConfig: attention mixing needs an even number of heads dividing channels, "
                f"got heads={self.heads}, channels={self.channels}"
            )
