#!/usr/bin/env bash
# Debian packages the Python dependencies need to build: PyICU (ICU transliteration for
# sanctions screening, through rigour and normality) has no wheels and compiles against the
# system's ICU, so it needs libicu-dev, pkg-config and a C++ compiler. Sourced by test.sh and
# up.sh before pip runs; as root with apt-get, installs whichever is missing, otherwise says
# what to install.
corridor_system_deps() {
  local missing=() pkg
  for pkg in libicu-dev pkg-config g++; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing ${missing[*]} (apt-get: PyICU builds against them)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
  elif command -v dpkg-query >/dev/null; then
    echo "==> missing ${missing[*]}: PyICU will not build; install them (sudo apt-get install" \
         "${missing[*]})" >&2
  fi
}
corridor_system_deps
