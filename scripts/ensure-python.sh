#!/usr/bin/env bash
# Makes sure the end-to-end test's Python side is installed: Debian's python3 with Pillow, numpy and
# protobuf, and protoc. These read tfprep's shards exactly as the seed's Python does (e2e/). As root
# with apt-get it installs what is missing; otherwise it names the command and fails, so that
# "make test" never passes with the end-to-end tests silently skipped. TFPREP_SKIP_E2E=1 opts out.
set -u
[ "${TFPREP_SKIP_E2E:-}" = "1" ] && exit 0
pkgs="python3-pil python3-numpy python3-protobuf protobuf-compiler"
have() {
  [ -x /usr/bin/python3 ] || return 1
  /usr/bin/python3 -c 'import numpy, PIL, google.protobuf' >/dev/null 2>&1 || return 1
  command -v protoc >/dev/null 2>&1
}
if ! have && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tfprep: installing $pkgs (Debian packages, for the end-to-end test) ..." >&2
  (apt-get install -y -q $pkgs >/dev/null 2>&1 ||
   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $pkgs >/dev/null 2>&1)) || true
fi
if ! have; then
  echo "tfprep: the end-to-end test needs Debian's python3 with Pillow, numpy and protobuf, and protoc:" >&2
  echo "  sudo apt-get install -y $pkgs" >&2
  echo "(or TFPREP_SKIP_E2E=1 make test to skip it knowingly)" >&2
  exit 1
fi
