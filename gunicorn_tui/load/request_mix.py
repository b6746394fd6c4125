"""Picking the next request of a weighted mix, and filling in ``{n}``."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence

from gunicorn_tui.load.profile import PLACEHOLDER, RequestSpec


class RequestMix:
    """Draws requests from ``specs`` in proportion to their weights.

    With a ``seed`` the sequence of picks and ``{n}`` values is the same on
    every run, so two runs of one profile send the same requests.
    """

    def __init__(self, specs: Sequence[RequestSpec], seed: int | None = None) -> None:
        if not specs:
            raise ValueError("a request mix needs at least one request")
        self.specs = tuple(specs)
        self._random = random.Random(seed)
        self._cumulative = list(itertools.accumulate(spec.weight for spec in self.specs))
        self._total = self._cumulative[-1]
        self._only = 0 if len(self.specs) == 1 else None

    def next(self) -> tuple[int, str]:
        """The index of the next request's spec and its path, ``{n}`` filled."""
        if self._only is not None:
            index = self._only
        else:
            point = self._random.random() * self._total
            index = min(bisect.bisect_right(self._cumulative, point), len(self.specs) - 1)
        spec = self.specs[index]
        if PLACEHOLDER not in spec.path:
            return index, spec.path
        value = self._random.randint(spec.n_min, spec.n_max)
        return index, spec.path.replace(PLACEHOLDER, str(value))
