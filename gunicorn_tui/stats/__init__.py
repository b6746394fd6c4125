"""Generic statistics in bounded memory: latency histograms and windows.

Nothing here knows about Gunicorn; ``gunicorn_tui.traffic`` builds on it.
"""
