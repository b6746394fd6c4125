"""The built-in load driver: bounded, repeatable load with honest latencies.

Headless: no textual or rich here. Import from the submodules (this package
re-exports nothing, so that importing ``load.summary`` does not load httpx
and the driver). Typical use::

    profile = load_profile_or_builtin("mixed", overrides={"duration_s": 30})
    target = resolve_target(profile_base_url=profile.base_url, bind="0.0.0.0:8000")
    run = LoadRun(profile, target, on_second=print).start()
    ...
    summary = run.join()
"""
