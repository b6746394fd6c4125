"""Test images built on the local Docker engine by ``python tests/images/build.py``."""
