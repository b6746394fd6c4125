"""A target's Python environment read from its files, never by running it: Gunicorn's
version and the worker classes it can import.
"""
