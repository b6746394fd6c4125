"""Capacity facts of one instance: CPUs it may use, memory it may use and
what each process holds, and how many connections wait to be accepted.

Headless: read from /proc and cgroup files of a local daemon; the advice
engine and ``gtui snapshot --json`` read the frozen dataclasses in
:mod:`gunicorn_tui.capacity.facts`.
"""
