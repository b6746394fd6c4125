"""Tuning advice from measurement: pure rules over capacity facts and a
window of observations, each item with its evidence and, where one helps,
a retune to prepare (see :mod:`gunicorn_tui.advice.rules`)."""
