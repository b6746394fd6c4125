"""Acting on Gunicorn servers: scale, reload, kill a worker, retune, revert, recover.

Headless: never imports textual or rich. The dashboard and the CLI call
:class:`gunicorn_tui.control.engine.ControlEngine`; the pure planner
(:func:`gunicorn_tui.control.planning.planner.plan_retune`) can be used on its own.
"""
