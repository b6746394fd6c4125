"""gunicorn-tui: a terminal dashboard for tuning Gunicorn live."""

__version__ = "0.1.0"
