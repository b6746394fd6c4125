"""Tests for gunicorn-tui.

A package, so that test modules import shared helpers as ``tests.harness.*``
and ``tests.images.*`` and pytest puts the repository root first on sys.path.
"""
