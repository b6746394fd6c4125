"""Durability: what must survive a crash of gtui mid-action.

The state directory, the journal (with how an action ended) and its plan
codec, per-target locks, the audit log and archive pruning. Settling what a
crash left (``gtui recover``) runs plans, so it is in ``running/recovery.py``.
"""
