"""``gtui`` (the dashboard) and ``gtui demo``."""

from __future__ import annotations

import argparse


def run_dashboard(args: argparse.Namespace) -> int:
    raise NotImplementedError


def run_demo(args: argparse.Namespace) -> int:
    raise NotImplementedError
