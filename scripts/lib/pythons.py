#!/usr/bin/env python3
"""Debian unstable's python3.14 and python3.15 in a private root each.

usage: scripts/lib/pythons.py [--dest DIR] [--list] [VERSION ...]

For each VERSION (default: 3.14 3.15) makes DIR/VERSION (DIR defaults to
build/pythons) a root holding Debian sid's python3.X-minimal,
libpython3.X-minimal, -stdlib and -testsuite with the libraries they need,
and patches its python3.X to start with that root's own dynamic loader and
libraries, so it runs on this machine without touching the system.

The packages come through a private apt configuration kept in DIR/apt: its
own sources list naming the archive URI the system's own sources use (read
from /etc/apt/sources.list.d/ and /etc/apt/sources.list), suite sid, its own
lists and cache directories and no dpkg status (Dir::State::status=/dev/null):
the system's apt state is never read or written. `apt-get download` fetches,
`dpkg-deb -x` unpacks, `patchelf` sets the interpreter and the RPATH.

A root is made once: DIR/VERSION/.complete records what went into it, and a
later run only checks that its python starts. Where a version cannot be had
(no network, no Debian archive, no patchelf), it says why and goes on.

Prints one line per version, "debian-3.X PATH" when it is there, or
"skip debian-3.X: REASON". --list only prints what is already there.
Exit status 0 unless the arguments are wrong: an absent Python is a skip.
"""
import argparse
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERSIONS = ("3.14", "3.15")
# What the interpreter, its standard library's extension modules (ssl,
# sqlite3, ctypes, lzma, bz2, readline, curses, dbm, decimal) and its test
# package need from a Debian root.
LIBS = ("libc6 libexpat1 zlib1g libssl3t64 libbz2-1.0 libffi8 liblzma5 libncursesw6 "
        "libreadline8t64 libsqlite3-0 libtinfo6 libuuid1 libzstd1 libgcc-s1 libmpdec4 "
        "libdb5.3t64").split()
PER_VERSION = ("python{v}-minimal", "libpython{v}-minimal", "libpython{v}-stdlib",
               "libpython{v}-testsuite")
ARCH_LIBDIR = "usr/lib/x86_64-linux-gnu"
LOADER = "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def say(msg):
    print(msg, flush=True)


def note(msg):
    print(f"pythons: {msg}", file=sys.stderr, flush=True)


def system_source_files():
    files = []
    if os.path.isfile("/etc/apt/sources.list"):
        files.append("/etc/apt/sources.list")
    files += sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    files += sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    return files


def parse_sources(path, text):
    """[(uri, suites, signed_by)] of the deb entries in one sources file,
    one-line (.list) or deb822 (.sources) format."""
    out = []
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            key = None
            for line in stanza.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("uris", "").split():
                out.append((uri, fields.get("suites", "").split(), fields.get("signed-by")))
        return out
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        words = line.split()[1:]
        signed = None
        if words and words[0].startswith("["):
            opts = []
            while words:
                w = words.pop(0)
                opts.append(w)
                if w.endswith("]"):
                    break
            m = re.search(r"signed-by=(\S+?)\]?$", " ".join(opts).replace(" ]", "]"))
            signed = m.group(1).rstrip("]") if m else None
        if len(words) >= 2:
            out.append((words[0], [words[1]], signed))
    return out


def debian_archive():
    """(uri, keyring) of the Debian archive the system's sources use, or
    (None, reason). The archive is the entry whose suite is a release's own
    (not -security, -updates, -backports) and whose URI does not end in
    -security; its Signed-By keyring is kept (the system keyring otherwise)."""
    entries = []
    for path in system_source_files():
        try:
            with open(path, errors="replace") as f:
                entries += parse_sources(path, f.read())
        except OSError:
            continue
    for uri, suites, signed in entries:
        if uri.rstrip("/").endswith("-security"):
            continue
        if not any(s and "-" not in s and "/" not in s for s in suites):
            continue
        # Debian's archive has dists/sid; a third-party repository would not
        # be named like one (its suite is not a release name of Debian's).
        if not re.search(r"/debian/?$", uri):
            continue
        key = signed if signed and os.path.isfile(signed) else KEYRING
        return uri.rstrip("/"), key
    return None, "no Debian archive in the system's apt sources (/etc/apt/sources.list{,.d})"


def apt_options(adir):
    return [
        "-o", f"Dir::Etc::SourceList={adir}/sources.list",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", "Dir::Etc::Preferences=/dev/null",
        "-o", "Dir::Etc::PreferencesParts=/dev/null",
        "-o", f"Dir::State={adir}/state",
        "-o", f"Dir::State::Lists={adir}/lists",
        "-o", "Dir::State::status=/dev/null",
        "-o", f"Dir::Cache={adir}/cache",
        "-o", "Dir::Cache::pkgcache=",
        "-o", "Dir::Cache::srcpkgcache=",
        "-o", "APT::Architecture=amd64",
        "-o", "APT::Architectures=amd64",
        "-o", "APT::Sandbox::User=root" if os.geteuid() == 0 else "APT::Sandbox::User=" + os.environ.get("USER", ""),
        "-o", "Debug::NoLocking=true",
        "-q",
    ]


def apt(adir, args, cwd=None, timeout=600):
    cmd = ["apt-get"] + apt_options(adir) + args
    try:
        cp = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return False, str(e)
    return cp.returncode == 0, (cp.stdout + cp.stderr).strip()


def private_apt(dest):
    """Makes DEST/apt and runs its update (once per call of this script).
    Returns (apt dir, None) or (None, reason)."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return None, "apt-get or dpkg-deb is not on this machine (not Debian)"
    uri, key = debian_archive()
    if uri is None:
        return None, key
    adir = os.path.join(dest, "apt")
    for d in ("lists/partial", "cache/archives/partial", "state", "debs"):
        os.makedirs(os.path.join(adir, d), exist_ok=True)
    with open(os.path.join(adir, "sources.list"), "w") as f:
        f.write(f"deb [signed-by={key}] {uri} sid main\n")
    ok, out = apt(adir, ["update"])
    # A source that cannot be reached is only a warning to apt-get update.
    lines = out.splitlines()
    errors = [line.strip() + (" " + lines[i + 1].strip() if line.startswith("Err:") and i + 1 < len(lines) else "")
              for i, line in enumerate(lines) if line.startswith(("E:", "W:", "Err:"))]
    if not ok or not glob.glob(os.path.join(adir, "lists", "*_sid_*Packages*")):
        why = errors[0] if errors else (out.splitlines() or ["?"])[-1]
        return None, f"apt-get update of {uri} sid got no package list: {why}"
    return adir, None


def candidates(adir, names):
    """{package: version} of what the private sid lists offer."""
    cp = subprocess.run(["apt-cache"] + apt_options(adir) + ["policy"] + list(names),
                        capture_output=True, text=True)
    found, pkg = {}, None
    for line in cp.stdout.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            pkg = line[:-1]
        m = re.match(r"\s+Candidate: (\S+)", line)
        if m and pkg and m.group(1) != "(none)":
            found[pkg] = m.group(1)
    return found


def python_of(root, v):
    return os.path.join(root, "usr", "bin", "python" + v)


def works(py):
    """None if py starts from its own root and imports what the tests use."""
    code = ("import sys, ssl, sqlite3, ctypes, lzma, bz2, decimal, concurrent.futures, "
            "test.support; print(sys.prefix)")
    try:
        cp = subprocess.run([py, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                            env={k: x for k, x in os.environ.items()
                                 if not k.startswith(("PYTHON", "LD_"))})
    except (OSError, subprocess.SubprocessError) as e:
        return str(e)
    want = os.path.join(os.path.dirname(os.path.dirname(py)))
    if cp.returncode != 0:
        return (cp.stderr.strip().splitlines() or ["exit %d" % cp.returncode])[-1]
    if os.path.realpath(cp.stdout.strip()) != os.path.realpath(want):
        return f"sys.prefix is {cp.stdout.strip()}, not {want}"
    return None


def make_root(dest, adir, v):
    """Downloads, unpacks and patches one version's root. Returns
    (python path, None) or (None, reason)."""
    names = LIBS + [p.format(v=v) for p in PER_VERSION]
    have = candidates(adir, names)
    missing = [n for n in names if n not in have]
    if missing:
        return None, f"Debian sid has no {' '.join(missing)}"
    debs = os.path.join(adir, "debs")
    want = [f"{n}={have[n]}" for n in names]
    # apt-get download skips what is already in the directory at that version.
    ok, out = apt(adir, ["download"] + want, cwd=debs)
    if not ok:
        return None, f"apt-get download failed: {out.splitlines()[-1] if out else '?'}"
    root = os.path.join(dest, v)
    tmp = root + ".new"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for n in names:
        ver = have[n].replace(":", "%3a")
        files = glob.glob(os.path.join(debs, f"{n}_{ver}_*.deb"))
        if not files:
            return None, f"{n} {have[n]} was not downloaded"
        cp = subprocess.run(["dpkg-deb", "-x", files[0], tmp], capture_output=True, text=True)
        if cp.returncode != 0:
            return None, f"dpkg-deb -x {os.path.basename(files[0])}: {cp.stderr.strip()}"
    py = python_of(tmp, v)
    loader = os.path.join(tmp, LOADER)
    if not os.path.exists(py) or not os.path.exists(loader):
        return None, f"the packages held no {os.path.relpath(py, tmp)} or {LOADER}"
    # Absolute paths of the final root: patch after the move.
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    py = python_of(root, v)
    libdir = os.path.join(root, ARCH_LIBDIR)
    cp = subprocess.run(["patchelf", "--set-interpreter", os.path.join(root, LOADER),
                         "--force-rpath", "--set-rpath", libdir, py], capture_output=True, text=True)
    if cp.returncode != 0:
        return None, f"patchelf on {py}: {cp.stderr.strip()}"
    why = works(py)
    if why:
        return None, f"{py} does not work: {why}"
    with open(os.path.join(root, ".complete"), "w") as f:
        f.write("".join(f"{n} {have[n]}\n" for n in names))
    return py, None


def ready(dest, v):
    """The root's python if a previous run completed it and it still works."""
    root = os.path.join(dest, v)
    py = python_of(root, v)
    if os.path.isfile(os.path.join(root, ".complete")) and os.access(py, os.X_OK) and works(py) is None:
        return py
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", default=os.path.join(ROOT, "build", "pythons"))
    ap.add_argument("--list", action="store_true", help="only print what is already there")
    ap.add_argument("versions", nargs="*", default=list(VERSIONS))
    args = ap.parse_args()
    for v in args.versions:
        if not re.fullmatch(r"3\.1[4-9]", v):
            ap.error(f"{v}: a Debian python3.X, 3.14 or newer")
    dest = os.path.abspath(args.dest)
    if not args.list:
        # One maker at a time (scripts/test and scripts/bench may both run).
        os.makedirs(dest, exist_ok=True)
        lock = open(os.path.join(dest, ".lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
    adir, apt_why = None, None
    for v in args.versions:
        py, why = ready(dest, v), None
        if py is None and args.list:
            why = "not fetched (run scripts/lib/pythons.py)"
        elif py is None and not shutil.which("patchelf"):
            why = "patchelf is not installed (apt-get install patchelf)"
        elif py is None:
            if adir is None and apt_why is None:
                adir, apt_why = private_apt(dest)
            py, why = make_root(dest, adir, v) if adir else (None, apt_why)
        skipfile = os.path.join(dest, v + ".skip")
        if py:
            say(f"debian-{v} {py}")
            if os.path.exists(skipfile):
                os.unlink(skipfile)
            continue
        say(f"skip debian-{v}: {why}")
        if not args.list:
            # The tests' skip message names the reason (common.pythons()).
            with open(skipfile, "w") as f:
                f.write(why + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
