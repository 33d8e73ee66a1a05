"""arc-efe: learn to solve ARC-AGI puzzles with a Qwen2 task encoder, a recurrent grid agent and an
Expected-Free-Energy objective. The package layout follows the data path:
data -> encoder -> agent -> objective -> training -> solving, with a thin cli on top."""

__version__ = "0.1.0"
