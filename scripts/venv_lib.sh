# Sourced by the install scripts: what they share about a virtual environment.
#   venv_up_to_date VENV FILE...   true when VENV was installed by these exact FILEs (and
#                                  the same $VENV_DIGEST_EXTRA: a setting that changes what
#                                  gets installed, such as the package to install)
#   venv_create VENV               create it if absent; sets PIP to its pip command
#   venv_mark_installed VENV       record the FILEs' digest, so the next run is a no-op
# The digest always covers this file too.

venv_up_to_date() {
  local venv="$1"
  shift
  VENV_DIGEST="$({ cat "$@" scripts/venv_lib.sh; printf '%s' "${VENV_DIGEST_EXTRA:-}"; } \
    | sha256sum | cut -c1-16)"
  [ -f "$venv/.corpusforge-install" ] && [ "$(cat "$venv/.corpusforge-install")" = "$VENV_DIGEST" ]
}

venv_create() {
  [ -x "$1/bin/python" ] || "$PYTHON" -m venv "$1"
  PIP=("$1/bin/python" -m pip --disable-pip-version-check)
  "${PIP[@]}" install -q --upgrade pip wheel
}

venv_mark_installed() {
  echo "$VENV_DIGEST" > "$1/.corpusforge-install"
}
