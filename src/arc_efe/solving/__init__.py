"""Solving: per-task refinement, augmentation voting, submissions, scores and reports."""
