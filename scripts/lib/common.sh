# Sourced by scripts/test and scripts/demo: install what is missing, build.
# Debian packages betapool needs to build and test.
BETAPOOL_PACKAGES="meson ninja-build pkg-config gcc clang libcriterion-dev python3"
# The sanitizer and fuzz stages: libFuzzer and clang's sanitizer runtimes
# (clang 14's -fsanitize=fuzzer links libclang_rt.fuzzer-x86_64.a from here;
# it is only a Recommends of clang-14). GCC's ASan/UBSan runtimes come with gcc.
BETAPOOL_PACKAGES="$BETAPOOL_PACKAGES libclang-rt-14-dev"
# test_embed: uWSGI and its python3 plugin, which dlopens libpython3.11.so
# after start (a Python that arrives later); about 5 MB with its libraries.
BETAPOOL_PACKAGES="$BETAPOOL_PACKAGES uwsgi-core uwsgi-plugin-python3"
# scripts/wheel and test_pip: meson-python builds the wheel, wheel retags it,
# venv (with ensurepip) installs it.
BETAPOOL_PACKAGES="$BETAPOOL_PACKAGES python3-mesonpy python3-wheel python3-venv"
# Debian unstable's python3.14 and python3.15 in build/pythons
# (scripts/lib/pythons.py): apt-get download, dpkg-deb -x, then patchelf.
BETAPOOL_PACKAGES="$BETAPOOL_PACKAGES patchelf"
# The Prometheus test (tests/integration/test_prometheus.py): a real
# node_exporter and Prometheus server, which the test starts itself on ports
# of its own, and prometheus_client for betapool.prometheus. Installed
# without their Recommends (dbus, node_exporter's extra collectors).
BETAPOOL_PACKAGES_NO_RECOMMENDS="prometheus prometheus-node-exporter python3-prometheus-client"

repo_root() {
    cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

missing_packages() {
    local p missing=""
    for p in ${1-$BETAPOOL_PACKAGES $BETAPOOL_PACKAGES_NO_RECOMMENDS}; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    echo "$missing"
}

# Installs missing packages when root; otherwise prints the exact command.
ensure_packages() {
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "betapool: these Debian packages are missing:$missing" >&2
        echo "betapool: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
        # Only the Prometheus test's: it skips, saying so.
        [ -z "$(missing_packages "$BETAPOOL_PACKAGES")" ] && return 0
        return 1
    fi
    echo "== installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    local plain bare
    plain=$(missing_packages "$BETAPOOL_PACKAGES")
    bare=$(missing_packages "$BETAPOOL_PACKAGES_NO_RECOMMENDS")
    apt-get update -qq >/dev/null &&
        { [ -z "$plain" ] || apt-get install -y -qq $plain >/dev/null; } &&
        { [ -z "$bare" ] || apt-get install -y -qq --no-install-recommends $bare >/dev/null; } || {
        echo "betapool: apt-get install failed for:$missing" >&2
        return 1
    }
}

# build DIR [meson options...]: configure once, then compile.
build() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; return 1; }
        rm -f "$dir.setup.log"
    fi
    meson compile -C "$dir" >"$dir.compile.log" 2>&1 || { cat "$dir.compile.log" >&2; return 1; }
    rm -f "$dir.compile.log"
}

# build_target DIR TARGET [meson options...]: configure once, then compile
# only TARGET (e.g. tests/fuzz_options), so that a stage that needs one
# program does not depend on the rest of the tree building in its setup.
build_target() {
    local dir=$1 target=$2
    shift 2
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; return 1; }
        rm -f "$dir.setup.log"
    fi
    meson compile -C "$dir" "$target" >"$dir.compile.log" 2>&1 || { cat "$dir.compile.log" >&2; return 1; }
    rm -f "$dir.compile.log"
}
