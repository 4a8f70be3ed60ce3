"""A wheelhouse in the venv, so that tests which install or build the project itself work offline.

Some suites pip-install the project into a fresh venv (`pip install /testbed`) or build its metadata in
an isolated build environment (pytest-checkdocs, `build.util.project_wheel_metadata`). Both need the
package index: the build backend and its requirements, and the project's own dependencies. The baseline
and every later sandbox have no network, so such tests fail only in codekiln. At build time, with the
network on, `fill_wheelhouse(sb, project)` downloads into `/opt/venv/codekiln-wheels`:

- the build requirements of pyproject's `[build-system]` (pip's default, setuptools, where it has none),
  with their dependencies;
- the project's runtime dependencies, at the versions the venv holds (its requirements, followed
  through the installed distributions' metadata; extras not included);
- whatever an offline check still finds missing: `pip install --dry-run --ignore-installed /testbed`
  against the wheelhouse alone, which builds the project's metadata in an isolated build environment
  exactly as a test would, so the backend's own dynamic requirements (`get_requires_for_build_wheel`:
  setuptools' `setup_requires`, say) are found by the backend itself. Up to `CHECK_ROUNDS` rounds.

`sandbox_env(venv)` then points pip at it in every sandbox of the environment (PIP_FIND_LINKS, and
PIP_NO_INDEX so that pip does not first spend its retries on an index it cannot reach); a venv without
a wheelhouse (an environment built before it existed) gets nothing, so its recorded baseline stays what
its sandboxes do. The install steps never see these settings: what the baseline installs into the venv
is unchanged.

What it does not weaken: only local files are added, read-only like the rest of the venv; the sandbox's
network, limits and isolation are untouched. The project's own distribution is never put there (a
wheel of the released project would hold its clean source, the answer to a task): a file of that name
is deleted, and a build that needs the project itself stays offline-broken as before. A failure here
never fails the build: it is logged (`logs/wheelhouse.log`) and recorded on the environment.
"""

from __future__ import annotations

from pathlib import Path

from codekiln.core.protocols import Sandbox
from codekiln.sandbox.base import VENV_DIR, WORKDIR

WHEELHOUSE_NAME = "codekiln-wheels"
WHEELHOUSE = f"{VENV_DIR}/{WHEELHOUSE_NAME}"
CHECK_ROUNDS = 3

# Runs with the venv's Python in the build sandbox (network on, pip's cache mounted), at /testbed.
# argv: the wheelhouse, the project's name (besides the one installed from /testbed), names never to
# download (comma-separated), rounds.
SCRIPT = r"""
import importlib.metadata as md, os, re, subprocess, sys, time
from pip._vendor.packaging.requirements import Requirement
wheelhouse, project, rounds = sys.argv[1], sys.argv[2], int(sys.argv[4])
never = {n for n in [project, *sys.argv[3].split(",")] if n}
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pip = [sys.executable, "-m", "pip"]
def run(argv, **env):
    print("$", " ".join(argv), flush=True)
    start = time.monotonic()
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, **env})
    print(res.stdout[-20000:], f"[exit {res.returncode} in {time.monotonic() - start:.1f} s]", flush=True)
    return res
def prune():  # the project's own distribution never lies in the wheelhouse
    for name in os.listdir(wheelhouse):
        if norm(re.split(r"-\d", name, maxsplit=1)[0]) in never:
            os.remove(os.path.join(wheelhouse, name))
            print("removed", name, "(the project itself, or skipped)", flush=True)
def req_name(req):
    try:
        return norm(Requirement(req).name)
    except Exception:  # pip's message quoted it oddly: its first word
        return norm(re.split(r"[^\w.-]", req, maxsplit=1)[0])
def download(reqs, *options):
    reqs = [r for r in reqs if req_name(r) not in never]
    ok = not reqs or run([*pip, "download", "--dest", wheelhouse, "--prefer-binary", *options, *reqs]).returncode == 0
    prune()
    return ok
try:
    import tomllib
except ImportError:
    from pip._vendor import tomli as tomllib
try:
    with open("pyproject.toml", "rb") as fh:
        system = tomllib.load(fh).get("build-system", {})
except FileNotFoundError:
    system = {}
build = system.get("requires") or ["setuptools>=40.8.0"]  # pip's default
installed = {}
for dist in md.distributions():  # the first on sys.path, as imports see it (an editable project's
    installed.setdefault(norm(dist.metadata["Name"] or ""), dist)  # egg-info in its source comes later)
root = next((d for d in md.distributions() if "file:///testbed" in (d.read_text("direct_url.json") or "")), None)
never |= {norm(root.metadata["Name"])} if root else set()
pins, seen, todo = {}, set(), [(r, ()) for r in (root.requires or [])] if root else []
while todo:
    line, extras = todo.pop()
    req = Requirement(line)
    name = norm(req.name)
    if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in ["", *extras]):
        continue
    dist = installed.get(name)
    if dist is None or name in never or (name, tuple(sorted(req.extras))) in seen:
        continue
    seen.add((name, tuple(sorted(req.extras))))
    pins[name] = f"{name}=={dist.version}"
    todo += [(r, tuple(req.extras)) for r in dist.requires or []]
os.makedirs(wheelhouse, exist_ok=True)
download(build)
download(sorted(pins.values()), "--no-deps")
offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": wheelhouse, "PIP_NO_CACHE_DIR": "1"}
for _ in range(rounds):
    check = run([*pip, "install", "--dry-run", "--ignore-installed", "/testbed"], **offline)
    if check.returncode == 0:
        print("CHECK OK", flush=True)
        break
    missing = sorted({m.strip() for m in re.findall(r"No matching distribution found for (.+)", check.stdout)})
    if not missing or not download(missing) or all(req_name(m) in never for m in missing):
        print("CHECK FAILED:", ", ".join(missing) or "see the log", flush=True)
        break
else:
    print("CHECK FAILED: still missing after", rounds, "rounds", flush=True)
"""


def fill_wheelhouse(sb: Sandbox, project: str, skip: list[str]) -> tuple[list[str], str, str]:
    """Fill the wheelhouse in the build sandbox `sb` (network on, the venv writable, the project
    installed from /testbed, whose name is never downloaded, nor `project`'s, nor `skip`'s). Returns
    (the files in it, the log, the problem: "" when the offline check passed)."""
    argv = [f"{VENV_DIR}/bin/python", "-c", SCRIPT, WHEELHOUSE, project, ",".join(skip), str(CHECK_ROUNDS)]
    res = sb.exec(argv, timeout=900, cwd=WORKDIR)
    log = f"$ fill the wheelhouse {WHEELHOUSE}\n{res.stdout}{res.stderr}[exit {res.exit_code}]\n"
    listing = sb.exec(["ls", "-1", WHEELHOUSE], timeout=60)
    files = sorted(line for line in listing.stdout.splitlines() if line.strip())
    if res.timed_out:
        return files, log, "filling the wheelhouse timed out"
    failed = [line for line in res.stdout.splitlines() if line.startswith("CHECK FAILED")]
    if res.exit_code != 0 or failed or "CHECK OK" not in res.stdout:
        problem = failed[-1].removeprefix("CHECK FAILED").strip(": ") if failed else "the script failed"
        return files, log, f"installing the project offline from the wheelhouse fails: {problem}"
    return files, log, ""


def sandbox_env(venv: Path | None) -> dict[str, str]:
    """pip's settings for a sandbox of the environment whose venv is `venv`: find links in its
    wheelhouse and no index, where it has one; nothing otherwise."""
    if venv is None or not (venv / WHEELHOUSE_NAME).is_dir():
        return {}
    return {"PIP_FIND_LINKS": WHEELHOUSE, "PIP_NO_INDEX": "1"}
