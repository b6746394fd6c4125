"""Figures of one instance at one moment: its processes read from /proc (local) or through
the engine's API (remote, or no /proc), worker states and the TCP table.
"""
