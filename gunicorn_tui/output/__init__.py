"""Text and JSON out of the core: escaping of target-controlled text, tables, units, and
the JSON documents of snapshots, traffic, capacity and the agent's stream.
"""
