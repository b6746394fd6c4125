"""Planning: decide what an action will do before anything happens.

The operator's request, the facts gathered about an instance, their validation,
and the pure planner strategies that turn them into a plan (steps) or a refusal.
"""
