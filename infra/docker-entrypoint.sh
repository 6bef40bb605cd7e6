#!/bin/sh
# Picks the ridetally process to run from the first argument. `exec` replaces the shell so node is
# the container's main process and receives SIGTERM itself.
set -eu

cd /app
service="${1:-platform}"
[ "$#" -gt 0 ] && shift

case "$service" in
  migrate)
    # Migrations run as their own one-shot step (compose service `migrate`, k8s Job), never on
    # service start-up.
    exec node --import tsx services/cli/src/main.ts migrate "$@"
    ;;
  ridetally | cli)
    exec node --import tsx services/cli/src/main.ts "$@"
    ;;
  tap-ingest | rider-app | aggregator | reward | platform)
    exec node --import tsx "services/$service/src/main.ts" "$@"
    ;;
  *)
    echo "ridetally-entrypoint: unknown service '$service' (expected tap-ingest, rider-app, aggregator, reward, platform, migrate or ridetally)" >&2
    exit 64
    ;;
esac
