"""A master's effective Gunicorn settings: its command line, config file and environment,
resolved with Gunicorn's own precedence.
"""
