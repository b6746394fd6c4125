"""The bottom layer: reading this host without trusting what it reads. /proc, cgroups and
the process tree, and files under a root (a container's) opened without following links
out of it.
"""
