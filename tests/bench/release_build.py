"""release_build.py -- the build the benchmarks measure: meson --buildtype=release (what users
deploy), in a build folder of the benchmarks' own (build-release/ by default), never the
user's build/, whose configuration is left alone.

  ensure(src, build_dir, targets=None)  set up (or switch to release) and compile
"""

import json
import os
import subprocess

BUILDTYPE = "release"


def _buildtype(build_dir):
    """The buildtype build_dir is configured with, or None when it is not set up."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        return None
    out = subprocess.run(["meson", "introspect", "--buildoptions", build_dir], check=True,
                         text=True, capture_output=True).stdout
    return next((o["value"] for o in json.loads(out) if o["name"] == "buildtype"), None)


def ensure(src, build_dir, targets=None, options=()):
    """Configure build_dir from src as a release build (set up, or reconfigured if it was
    set up as another type) and compile targets (all when None).  options: more -D flags for
    a fresh set-up.  Raises CalledProcessError with meson's output on failure."""
    kind = _buildtype(build_dir)
    if kind is None:
        cmd = ["meson", "setup", build_dir, src, f"--buildtype={BUILDTYPE}"] + list(options)
    elif kind != BUILDTYPE:
        cmd = ["meson", "configure", build_dir, f"-Dbuildtype={BUILDTYPE}"]
    else:
        cmd = None
    if cmd:
        subprocess.run(cmd, check=True, text=True, capture_output=True)
    subprocess.run(["meson", "compile", "-C", build_dir] + list(targets or []), check=True,
                   text=True, capture_output=True)
