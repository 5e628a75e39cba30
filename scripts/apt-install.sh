# Sourced by scripts/ensure-*.sh. Each caller defines `skip REASON` (says why its tests will skip,
# exits 0: the build never fails for a missing system package).

# root_or_skip WHAT PACKAGE...: go on only as root or with passwordless sudo
root_or_skip() {
    local what="$1"; shift
    command -v apt-get >/dev/null 2>&1 || skip "$what not found and no apt-get here; install it yourself"
    [ "$(id -u)" = 0 ] && return 0
    command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1 && return 0
    skip "$what not found; not root and no passwordless sudo to run: apt-get install $*"
}

# as_root CMD...: run a command as root (directly or with passwordless sudo)
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# apt_install WHAT PACKAGE...: install Debian packages (apt-get update only when the first try fails)
apt_install() {
    local what="$1"; shift
    root_or_skip "$what" "$@"
    local opts=(install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" "$@" >/dev/null 2>&1 && return 0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || echo "apt-get update failed; trying the install anyway" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" "$@" >/dev/null || skip "apt-get install $* failed (see above)"
}
