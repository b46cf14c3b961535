#!/usr/bin/env bash
# Set up everything casefile needs on a fresh Debian 12 machine, idempotently, then run one job:
#   ./bootstrap.sh demo   - the demo of the main job on fictional sample data (embedded defaults)
#   ./bootstrap.sh test   - lint, type-check and the whole test suite (what CI runs)
#   ./bootstrap.sh setup  - only install
# System packages come from Debian (apt), Python packages from PyPI into ./.venv. Run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3 python3-venv python3-pip
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-osd
  qpdf poppler-utils fonts-dejavu-core jbig2dec
  postgresql postgresql-contrib  # a practice's shared catalog and search index; the tests start throwaway clusters
  postgresql-15-rum  # ranked full-text index (Debian 12's PostgreSQL 15); without it search falls back to GIN
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1
  chromium chromium-driver  # the staff page's browser tests (Playwright drives Debian's Chromium)
)
VENV=.venv

log() { printf '[bootstrap] %s\n' "$*" >&2; }

install_system_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo="sudo"
  fi
  log "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_packages() {
  local python=${PYTHON:-python3}
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { log "Python 3.11 or newer is needed (found $("$python" --version))"; exit 1; }
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$python" -m venv "$VENV"
  fi
  # Reinstall only when the dependency list changed.
  local stamp="$VENV/.casefile-deps" want
  want=$(cat pyproject.toml bootstrap.sh | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python packages into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # compat mode: a plain path entry, no import hook (start-up time matters for every command)
    "$VENV/bin/python" -m pip install -q -e ".[dev]" --config-settings editable_mode=compat
    echo "$want" > "$stamp"
  fi
}

install_system_packages
install_python_packages
export PATH="$PWD/$VENV/bin:$PATH"

case "${1:-demo}" in
  setup) log "ready: activate with 'source $VENV/bin/activate', then run 'casefile --help'" ;;
  demo) shift || true; exec casefile demo "$@" ;;
  test)
    shift || true
    ruff check .
    mypy
    exec python -m pytest "$@"
    ;;
  *) log "usage: $0 [demo|test|setup]"; exit 2 ;;
esac
