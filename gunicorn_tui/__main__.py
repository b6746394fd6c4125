"""Allow ``python -m gunicorn_tui``."""

from gunicorn_tui.cli.main import main

raise SystemExit(main())
