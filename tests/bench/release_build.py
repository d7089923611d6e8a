"""release_build.py -- the build the benchmarks measure: meson --buildtype=release
-Db_lto=true (what users deploy), in a build folder of the benchmarks' own (build-release/
by default), never the user's build/, whose configuration is left alone.

  ensure(src, build_dir, targets=None)  set up (or switch to release) and compile
"""

import json
import os
import subprocess

BUILDTYPE = "release"
# link-time optimisation: the worker's per-message path crosses files (dp_shm, dp_worker,
# lib/core's wire, tx and rx), and small functions called across them are inlined only
# at link time (+2-6% message rate on the pair run)
OPTIONS = {"buildtype": BUILDTYPE, "b_lto": True}


def _options(build_dir):
    """{name: value} of OPTIONS' options build_dir is configured with, or None when it is
    not set up."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        return None
    out = subprocess.run(["meson", "introspect", "--buildoptions", build_dir], check=True,
                         text=True, capture_output=True).stdout
    return {o["name"]: o["value"] for o in json.loads(out) if o["name"] in OPTIONS}


def _flags():
    return [f"-D{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in OPTIONS.items()]


def ensure(src, build_dir, targets=None, options=()):
    """Configure build_dir from src as a release build with OPTIONS (set up, or
    reconfigured if it was set up otherwise) and compile targets (all when None).
    options: more -D flags for a fresh set-up.  Raises CalledProcessError with meson's
    output on failure."""
    have = _options(build_dir)
    if have is None:
        cmd = ["meson", "setup", build_dir, src] + _flags() + list(options)
    elif have != OPTIONS:
        cmd = ["meson", "configure", build_dir] + _flags()
    else:
        cmd = None
    if cmd:
        subprocess.run(cmd, check=True, text=True, capture_output=True)
    subprocess.run(["meson", "compile", "-C", build_dir] + list(targets or []), check=True,
                   text=True, capture_output=True)
