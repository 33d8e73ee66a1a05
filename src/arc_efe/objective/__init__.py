"""Objectives: EFE terms, policy-gradient loss and accuracy metrics, as pure functions."""
