"""One object that discovers and samples: the engines' watchers, the samplers of each
instance, the traffic hub and remote agents, and the frame they make together (the
dashboard's and every ``--json`` output's source).
"""
