#!/bin/sh
# Rebuild dbip-city-lite-coarse.mmdb and src/geo/centroids.rs; see README.md.
set -e
exec python3 "$(dirname "$0")/build.py" "$@"
