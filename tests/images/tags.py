"""Names of the test images, in one place for the build script and the tests.

Every image is built locally by ``python tests/images/build.py``; none comes
from a registry.
"""

from __future__ import annotations

# Debian bookworm minbase made by debootstrap, with python3, ca-certificates,
# procps and tini.
BASE = "gtui-test/base:bookworm"

# Latest Gunicorn with setproctitle and gevent (``gunicorn[gevent]``).
GUNICORN_LATEST = "gtui-test/gunicorn:latest"

# Latest Gunicorn without setproctitle and without gevent: process titles are
# the plain command line, and ``-k gevent`` fails to boot.
GUNICORN_NO_SETPROCTITLE = "gtui-test/gunicorn:nosetproctitle"

# Like GUNICORN_LATEST, but the ENTRYPOINT is a shell script that starts
# gunicorn without exec, so the master is not PID 1. Arguments pass through.
GUNICORN_SHELL = "gtui-test/gunicorn:shell"

# Gunicorn 20.1.0 with setproctitle: no control socket.
GUNICORN_20 = "gtui-test/gunicorn:20"

# No Gunicorn at all; the default command sleeps.
PLAIN = "gtui-test/plain:latest"

# The images that tests start (the base is only built upon).
TEST_IMAGES = (GUNICORN_LATEST, GUNICORN_NO_SETPROCTITLE, GUNICORN_SHELL, GUNICORN_20, PLAIN)

# The port each Gunicorn image binds by default (on 127.0.0.1, host network).
# Tests pass their own free port instead, so parallel runs do not collide.
DEFAULT_PORT = 8000

# Where the sample app and the Python packages live inside the images.
APP_DIR = "/app"
SITE_DIR = "/opt/gtui/site"

# Labels set on every image the build script makes.
IMAGE_LABEL = "gtui-test.image"
INPUTS_HASH_LABEL = "gtui-test.inputs-hash"
