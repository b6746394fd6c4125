"""The embedded demo (``gtui demo``): a small Gunicorn app, its server and its traffic, so
the dashboard has something to show on a fresh machine.
"""
