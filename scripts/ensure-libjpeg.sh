#!/usr/bin/env bash
# Prints 1 when cgo + libjpeg-turbo can be used, else 0 (and a notice on stderr).
# imageprep links libjpeg statically (-l:libjpeg.a), so it needs the header, the static library
# and a C compiler. Installs Debian's libjpeg62-turbo-dev when something is missing and we are root.
set -u
if [ "${CGO_ENABLED:-}" = "0" ]; then echo 0; exit 0; fi
cc="${CC:-gcc}"
have() {
  command -v "$cc" >/dev/null 2>&1 || return 1
  echo '#include <stdio.h>
#include <jpeglib.h>' | "$cc" -E -x c - >/dev/null 2>&1 || return 1
  # -print-file-name echoes the bare name back when the library is not on the search path.
  [ "$("$cc" -print-file-name=libjpeg.a)" != "libjpeg.a" ]
}
if ! have && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tfprep: installing libjpeg62-turbo-dev (libjpeg-turbo headers and static library) ..." >&2
  (apt-get install -y -q libjpeg62-turbo-dev gcc >/dev/null 2>&1 ||
   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libjpeg62-turbo-dev gcc >/dev/null 2>&1)) || true
fi
if have; then echo 1; else
  echo "tfprep: NOTICE: libjpeg-turbo (jpeglib.h, libjpeg.a) or a C compiler is missing; building the pure-Go image decoder (CGO_ENABLED=0), whose pixels differ slightly from Keras/PIL (see README)." >&2
  echo 0
fi
