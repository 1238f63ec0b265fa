#!/usr/bin/env bash
# Prints 1 when cgo + libjpeg-turbo can be used, else 0 (and a notice on stderr).
# Installs Debian's libjpeg62-turbo-dev when it is missing and we are root.
set -u
if [ "${CGO_ENABLED:-}" = "0" ]; then echo 0; exit 0; fi
have() { [ -f /usr/include/jpeglib.h ] && command -v "${CC:-gcc}" >/dev/null 2>&1; }
if ! have && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tfprep: installing libjpeg62-turbo-dev (libjpeg-turbo headers) ..." >&2
  (apt-get install -y -q libjpeg62-turbo-dev gcc >/dev/null 2>&1 ||
   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libjpeg62-turbo-dev gcc >/dev/null 2>&1)) || true
fi
if have; then echo 1; else
  echo "tfprep: NOTICE: libjpeg-turbo headers or a C compiler are missing; building the pure-Go image decoder (CGO_ENABLED=0), whose pixels differ slightly from Keras/PIL (see README)." >&2
  echo 0
fi
