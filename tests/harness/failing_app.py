"""The sample app, failing on demand: while the file named by
``GTUI_TEST_FAIL_FLAG`` exists, every request but /health gets a 500 after
the same work it would have done (so the load's rate stays what it was and
only the status changes). A test flips the file to make a round lose its
load to errors. Imported by Gunicorn from this directory (``--pythonpath``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import sample_app  # type: ignore[import-not-found]  # on Gunicorn's --pythonpath

FLAG_ENV = "GTUI_TEST_FAIL_FLAG"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """``sample_app.app``, with its status replaced by 500 while the flag exists."""
    flag = os.environ.get(FLAG_ENV, "")
    if not flag or environ.get("PATH_INFO") == "/health" or not os.path.exists(flag):
        return sample_app.app(environ, start_response)  # type: ignore[no-any-return]

    def failing(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
        return start_response("500 Internal Server Error", headers, *rest)

    return sample_app.app(environ, failing)  # type: ignore[no-any-return]
