"""Tests of the built-in load driver (gunicorn_tui.load)."""
