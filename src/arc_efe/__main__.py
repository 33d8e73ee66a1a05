"""`python -m arc_efe ...`: the `arc-efe` command (also what `torchrun -m arc_efe` and `accelerate launch -m
arc_efe` start on each rank)."""

import sys

from arc_efe.cli.main import main

sys.exit(main())
