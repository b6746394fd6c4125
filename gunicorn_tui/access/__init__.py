"""The access layer: how gtui reaches a Gunicorn master, one class per kind of target.

Every read, write, exec and signal of the control path goes through here,
and the safety rules are enforced here, not at call sites:

- :mod:`kinds`: :class:`AccessKind` (host, local container, API container),
  what discovery records per container (:mod:`locality` decides it) and
  what plans carry instead of ``daemon_local`` / ``api_mode`` flags;
- :mod:`target`: :class:`TargetAccess`, the interface every kind implements
  (files, signals, commands, the control socket, watching workers, the
  installation scan) and its small data types;
- :mod:`proc_target`, :mod:`host`, :mod:`containers`: the kinds whose pids
  are this host's (:class:`HostMaster`, :class:`LocalContainer`) and the
  one reached through an engine's API (:class:`ApiContainer`);
- :mod:`docker_engine`: :class:`DockerEngine`, the typed door to any
  Docker-API engine (no ``Any`` client beyond it), and the engine's identity;
- :mod:`processes`: pids pinned by start time, signals through pidfds;
- :mod:`files`: what is at a path (:class:`FileState`) and the expectations
  a write checks just before it acts;
- :mod:`host_commands`: running a host master's command as its user;
- :mod:`resolve`: :class:`AccessResolver`, which hands out the right
  :class:`TargetAccess` for an instance, a plan's target or a container.

A new kind (an engine over SSH, a remote gtui agent, Kubernetes) is a new
:class:`TargetAccess` subclass (and, for an engine that speaks the Docker
API, only a :class:`DockerEngine` made from another client) plus a branch in
:class:`AccessResolver`. Nothing here imports textual.
"""
