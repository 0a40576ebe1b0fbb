#!/usr/bin/env bash
# Prints the packaged example config: the repository's meridian.toml with the geo database
# and its NOTICE at the paths the Debian package installs them to, so that
# /usr/share/doc/meridian/examples/meridian.toml validates as installed. tests/deb.sh fails
# when dist/deb/meridian.toml is not this script's output; after changing meridian.toml run
#   bash dist/deb/example-config.sh > dist/deb/meridian.toml
set -euo pipefail
cd "$(dirname "$0")/../.."
# Each expression must match exactly once: a reworded meridian.toml fails here, not later.
for pattern in '^database = "geo-data/dbip-city-lite-coarse\.mmdb"$' 'see geo-data/NOTICE'; do
    count=$(grep -c -- "$pattern" meridian.toml || true)
    if [ "$count" != 1 ]; then
        echo "dist/deb/example-config.sh: '$pattern' matches $count lines of meridian.toml, not 1" >&2
        exit 1
    fi
done
printf '%s\n' \
    '# Packaged copy of the repository'"'"'s meridian.toml (dist/deb/example-config.sh makes it):' \
    '# the same file with the geo database at the path the package installs it to.' \
    '#'
sed -e 's|^database = "geo-data/dbip-city-lite-coarse\.mmdb"$|database = "/usr/share/meridian/dbip-city-lite-coarse.mmdb"|' \
    -e 's|see geo-data/NOTICE|see /usr/share/meridian/NOTICE|' \
    meridian.toml
