"""The plain records every layer passes around: instances, their samples, Compose service
groups, a snapshot read back from JSON.
"""
