"""Durability: what must survive a crash of gtui mid-action.

The state directory, the journal and its plan codec, per-target locks, the
audit log and archive pruning, and ``gtui recover`` which settles what was left.
"""
