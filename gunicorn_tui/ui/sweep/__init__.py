"""Sweeps from the dashboard (``w``): the form, the progress and result
screen, and the launcher that runs :func:`gunicorn_tui.sweep.runner.run_sweep`
in a thread."""
