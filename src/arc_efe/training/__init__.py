"""Training: config, train step, loop, checkpoints, monitoring. The only package that imports accelerate and optimisers."""
