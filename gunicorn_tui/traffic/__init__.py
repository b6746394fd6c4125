"""Traffic: what Gunicorn tells about the requests it serves.

Parsers for the access log (any ``access_log_format``), the error log and
Gunicorn's StatsD metrics; followers for log files and Docker log streams; and
the rolling metrics (rates, status mix, latency percentiles, per-worker and
per-endpoint figures) built from them. Headless: no textual or rich import.
"""
