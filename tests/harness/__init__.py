"""Helpers behind the test fixtures: containers, host Gunicorn processes, loopback HTTP."""
