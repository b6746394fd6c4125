"""Finding Gunicorn masters in containers: the engine's container list kept current from
its events, a container's shape (networking, Compose labels) and how its processes are
reached.
"""
