"""Benchmarks: scripts that print figures and ratios against a baseline (see README.md)."""
