#!/bin/sh
# Entrypoint of gtui-test/gunicorn:shell. It starts gunicorn as a child of
# this shell, not with exec, so the master is not PID 1: the shape of many real
# entrypoints. TERM and INT are passed on so that `docker stop` stays quick.
gunicorn "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"
status=$?
# A trapped signal ends the first wait early; wait again for gunicorn to exit.
if kill -0 "$child" 2>/dev/null; then
    wait "$child"
    status=$?
fi
exit "$status"
