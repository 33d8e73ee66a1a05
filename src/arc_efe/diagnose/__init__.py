"""Gradient-flow doctor: runs a real training step and checks that gradients flow where they must."""
