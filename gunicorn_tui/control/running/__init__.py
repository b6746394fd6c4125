"""Running: carry a plan out on a live server and watch it.

The executor and what its steps use: container operations, readiness and
serving watches, the service probe, progress events, interrupts, Compose rolls;
and recovery, which finishes or undoes a journaled plan a crash interrupted.
"""
