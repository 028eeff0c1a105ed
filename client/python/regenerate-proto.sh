#!/bin/sh
# Regenerates framewire/proto/ (the FlatBuffers Python code) from proto/framewire.fbs.
#
# It runs exactly `flatc --python -o <dir> proto/framewire.fbs`, but into a temporary
# directory, and copies only framewire/proto/ back: flatc also writes an EMPTY
# framewire/__init__.py for the namespace, which would wipe out the client's own
# framewire/__init__.py if flatc wrote into client/python directly.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flatc --python -o "$tmp" "$repo/proto/framewire.fbs"
rm -rf "$here/framewire/proto"
cp -R "$tmp/framewire/proto" "$here/framewire/proto"
echo "regenerated $here/framewire/proto"
