"""Sweeps: try several configs in a row under the same load, rank them,
and put the service back where it was (see :mod:`gunicorn_tui.sweep.runner`)."""
