"""Keeping a running configuration where it lives (``gtui persist``)."""
