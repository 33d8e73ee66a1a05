"""Training: config, train step, loop, checkpoints, monitoring. The only package that imports accelerate
(test-time training in solving builds its own small Adam)."""
