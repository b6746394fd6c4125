"""The ``gtui`` command: one parser tree, one command table, shared options
(``options.py``); each ``*_commands.py`` module is one group of commands and imports no
other.
"""
