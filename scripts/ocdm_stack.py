"""Build, start and stop the real RDK OpenCDM stack as a test fixture.

The stack is Thunder R5.3.0 with its OpenCDMi plugin, the OCDM client library
(``libClientOCDM.so``) and the OCDM-Clearkey CDMi, built from source into a cache outside the
clone, keyed by the sources and this recipe, so a machine builds it once.

    scripts/ocdm-stack build [--sources DIR] [--jobs N]   build (or reuse) and print the prefix
    scripts/ocdm-stack prefix                             print the prefix if built, else exit 1
    scripts/ocdm-stack start --run-dir DIR [--port N]     start a private daemon, print its env
    scripts/ocdm-stack env --run-dir DIR                  print the env of a started daemon
    scripts/ocdm-stack stop --run-dir DIR                 stop it

Sources: ``--sources DIR`` (or ``DRMKIT_OCDM_STACK_SOURCES``) holds the six source archives
(``Thunder-R5.3.0.tar.gz`` ...); by default ``../shared/thunder`` beside the clone, and when no
such directory exists the public repositories are cloned at the pinned tags. Cache:
``DRMKIT_OCDM_STACK_CACHE``, default ``${XDG_CACHE_HOME:-~/.cache}/drmkit/ocdm-stack``.

``start`` writes a private configuration into the run directory: the daemon binds loopback on a
free port, its COM-RPC communicator and the OCDM server socket live in the run directory, only the
OpenCDMi plugin runs, with only the Clear Key system, and nothing is written outside the run
directory. The ``env`` lines it prints (``KEY=VALUE``) are what a client process needs:
``OPEN_CDM_SERVER`` and drmkit's HAL settings for the library path and its search path.

This script uses only the standard library: it runs before drmkit is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TAG = "R5.3.0"
# The six trees in build order, with the public repository and the commit the tag names.
TREES: tuple[tuple[str, str, str], ...] = (
    ("ThunderTools", "rdkcentral/ThunderTools", "53bdc7e2bb12497a228ff5694190c51e5dd533af"),
    ("Thunder", "rdkcentral/Thunder", "ca7ad203398b3f065f9f494b89bc12038cd24f95"),
    (
        "ThunderInterfaces",
        "rdkcentral/ThunderInterfaces",
        "4331edda90fb8dd149431ea609771d09bc922b77",
    ),
    (
        "ThunderClientLibraries",
        "rdkcentral/ThunderClientLibraries",
        "1413f9dfc5f53001ac1a4ac71751d4b03406e36a",
    ),
    (
        "ThunderNanoServicesRDK",
        "rdkcentral/ThunderNanoServicesRDK",
        "5a19df4730fc9f98bfcea273520d2074baf49ed4",
    ),
    ("OCDM-Clearkey", "rdkcentral/OCDM-Clearkey", "e736533495d05a28248f4e38328d4459991b221d"),
)

# Bump when the recipe below changes in a way that changes the installed tree.
RECIPE = 1

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = ROOT.parent / "shared" / "thunder"
# What Thunder's code generators need (ThunderTools/DocumentGenerator/requirements.txt).
GENERATOR_REQUIREMENTS = ("jsonref==0.2",)


def cmake_args(tree: str, prefix: Path, python: Path) -> list[str]:
    """Return the configure arguments of one tree: optional parts off, paths under the prefix."""
    common = [
        "-G",
        "Ninja",
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_INSTALL_PREFIX={prefix}",
        f"-DCMAKE_PREFIX_PATH={prefix}",
        f"-DCMAKE_MODULE_PATH={prefix}/include/Thunder/Modules",
        f"-DPYTHON_EXECUTABLE={python}",
        "-DCMAKE_INSTALL_LIBDIR=lib",
    ]
    per_tree: dict[str, list[str]] = {
        "ThunderTools": [],
        "Thunder": [
            "-DBUILD_SHARED_LIBS=ON",
            "-DBINDING=127.0.0.1",
            "-DPORT=55555",
            "-DEXCEPTION_CATCHING=OFF",
            "-DDEADLOCK_DETECTION=OFF",
            "-DBLUETOOTH_SUPPORT=OFF",
            "-DBROADCAST=OFF",
            "-DLOCALTRACER=OFF",
            "-DWARNING_REPORTING=OFF",
            "-DPROCESSCONTAINERS=OFF",
            "-DHIBERNATESUPPORT=OFF",
            "-DPRIVILEGEDREQUEST=OFF",
            f"-DDATA_PATH={prefix}/share/Thunder",
            f"-DPERSISTENT_PATH={prefix}/var/Thunder",
            f"-DVOLATILE_PATH={prefix}/tmp",
            f"-DSYSTEM_PATH={prefix}/lib/thunder/plugins",
            f"-DPROXYSTUB_PATH={prefix}/lib/thunder/proxystubs",
            f"-DPOSTMORTEM_PATH={prefix}/var/postmortem",
            f"-DCONFIG_INSTALL_PATH={prefix}/etc/Thunder",
        ],
        "ThunderInterfaces": [],
        "ThunderClientLibraries": [
            "-DCDMI=ON",
            "-DCDMI_ADAPTER_IMPLEMENTATION=None",
            "-DINSTALL_TESTS=ON",
            "-DPROTOCOLS=OFF",
        ],
        "ThunderNanoServicesRDK": [
            "-DPLUGIN_OPENCDMI=ON",
            "-DPLUGIN_OPENCDMI_CLEARKEY=ON",
            "-DPLUGIN_OPENCDMI_MODE=Local",
        ],
        "OCDM-Clearkey": [],
    }
    return common + per_tree[tree]


def log(message: str) -> None:
    """Print a progress line on standard error."""
    print(f"ocdm-stack: {message}", file=sys.stderr, flush=True)


def run(
    cmd: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    """Run ``cmd``, echoing it; a failure ends the script."""
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, check=True)


def cache_root() -> Path:
    """Return the cache directory (``DRMKIT_OCDM_STACK_CACHE`` or the XDG cache)."""
    explicit = os.environ.get("DRMKIT_OCDM_STACK_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "drmkit" / "ocdm-stack"


def source_dir(explicit: str | None) -> Path | None:
    """Return the directory of source archives, or ``None`` to clone the public repositories."""
    chosen = explicit or os.environ.get("DRMKIT_OCDM_STACK_SOURCES")
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise SystemExit(f"ocdm-stack: sources directory {path} does not exist")
        return path
    return DEFAULT_SOURCES if DEFAULT_SOURCES.is_dir() else None


def archive_of(sources: Path, tree: str) -> Path:
    """Return the archive of ``tree`` in ``sources``."""
    archive = sources / f"{tree}-{TAG}.tar.gz"
    if not archive.is_file():
        raise SystemExit(f"ocdm-stack: {archive} is missing")
    return archive


def compiler_identity() -> str:
    """Return the C++ compiler's version line (part of the cache key)."""
    out = subprocess.run(["c++", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def cache_key(sources: Path | None) -> str:
    """Return a digest of what decides the installed tree: sources, recipe, compiler."""
    digest = hashlib.sha256()
    digest.update(f"recipe={RECIPE}\n".encode())
    digest.update(f"compiler={compiler_identity()}\n".encode())
    for tree, _repo, commit in TREES:
        if sources is None:
            digest.update(f"{tree}={commit}\n".encode())
        else:
            archive_digest = hashlib.sha256(archive_of(sources, tree).read_bytes()).hexdigest()
            digest.update(f"{tree}={archive_digest}\n".encode())
        digest.update(" ".join(cmake_args(tree, Path("/P"), Path("/PY"))).encode())
    return digest.hexdigest()[:16]


def stack_dir(sources: Path | None) -> Path:
    """Return the cache entry of the stack built from ``sources``."""
    return cache_root() / cache_key(sources)


def unpack(sources: Path | None, tree: str, repo: str, commit: str, dest: Path) -> Path:
    """Put the sources of ``tree`` under ``dest`` (from its archive, or cloned at the tag)."""
    target = dest / tree
    if target.exists():
        shutil.rmtree(target)
    if sources is not None:
        with tarfile.open(archive_of(sources, tree)) as tar:
            tar.extractall(dest, filter="data")
        if not target.is_dir():
            raise SystemExit(f"ocdm-stack: archive of {tree} has no top-level {tree}/")
    else:
        run(
            [
                "git",
                "clone",
                "--quiet",
                "--depth",
                "1",
                "--branch",
                TAG,
                f"https://github.com/{repo}.git",
                target,
            ]
        )
        head = subprocess.run(
            ["git", "-C", str(target), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if head != commit:
            raise SystemExit(f"ocdm-stack: {repo} tag {TAG} is {head}, expected {commit}")
    return target


def build(args: argparse.Namespace) -> int:
    """Build the six trees into the cache (``build``); print the prefix."""
    sources = source_dir(args.sources)
    home = stack_dir(sources)
    prefix = home / "prefix"
    stamp = home / "complete"
    if stamp.is_file() and not args.force:
        log(f"cached: {prefix}")
        print(prefix)
        return 0
    for tool in ("cmake", "ninja", "c++"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"ocdm-stack: {tool} is not installed (scripts/install-system-deps installs it)"
            )
    if prefix.exists():
        shutil.rmtree(prefix)
    home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    python = generator_python(home / "venv")
    jobs = str(args.jobs or os.cpu_count() or 2)
    with tempfile.TemporaryDirectory(prefix="ocdm-stack-build-", dir=home) as scratch:
        work = Path(scratch)
        env = dict(os.environ, PATH=f"{prefix}/bin:{os.environ.get('PATH', '')}")
        for tree, repo, commit in TREES:
            tree_started = time.monotonic()
            src = unpack(sources, tree, repo, commit, work / "src")
            build_dir = work / "build" / tree
            run(["cmake", "-S", src, "-B", build_dir, *cmake_args(tree, prefix, python)], env=env)
            run(["cmake", "--build", build_dir, "--parallel", jobs], env=env)
            run(["cmake", "--install", build_dir], env=env)
            log(f"{tree} built in {time.monotonic() - tree_started:.0f} s")
    check_installed(prefix)
    stamp.write_text(
        json.dumps({"seconds": round(time.monotonic() - started), "key": home.name}) + "\n"
    )
    log(f"built in {time.monotonic() - started:.0f} s: {prefix}")
    print(prefix)
    return 0


def generator_python(venv: Path) -> Path:
    """Return a Python with what Thunder's generators import (a private venv, made once)."""
    python = venv / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv")
    if uv is not None:  # what scripts/install-system-deps installs; needs no python3-venv
        run([uv, "venv", "--quiet", "--python", sys.executable, venv])
        run([uv, "pip", "install", "--quiet", "--python", python, *GENERATOR_REQUIREMENTS])
    else:
        run([sys.executable, "-m", "venv", venv])
        run([python, "-m", "pip", "install", "--quiet", *GENERATOR_REQUIREMENTS])
    return python


def check_installed(prefix: Path) -> None:
    """Fail unless the install holds what ``start`` and the clients need."""
    wanted = [
        prefix / "bin" / "Thunder",
        prefix / "bin" / "ThunderPlugin",
        prefix / "lib" / "libClientOCDM.so",
        prefix / "lib" / "thunder" / "plugins" / "libThunderOCDM.so",
        prefix / "share" / "Thunder" / "OCDM" / "ThunderClearKey.drm",
        prefix / "etc" / "Thunder" / "config.json",
        prefix / "etc" / "Thunder" / "plugins" / "OCDM.json",
    ]
    missing = [str(p) for p in wanted if not p.exists()]
    if missing:
        raise SystemExit("ocdm-stack: the install lacks " + ", ".join(missing))


def built_prefix() -> Path:
    """Return the prefix of the built stack (fail when it is not built)."""
    prefix = stack_dir(source_dir(None)) / "prefix"
    if not (prefix.parent / "complete").is_file():
        raise SystemExit("ocdm-stack: the stack is not built (scripts/ocdm-stack build)")
    return prefix


def free_port() -> int:
    """Return a free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_env(prefix: Path, run_dir: Path) -> dict[str, str]:
    """Return what a drmkit process needs to use the daemon (the CDM profile is matched)."""
    return {
        "OPEN_CDM_SERVER": str(run_dir / "ocdm"),
        "DRMKIT_HAL__LIBRARY_PATH": str(prefix / "lib" / "libClientOCDM.so"),
        "DRMKIT_HAL__LIBRARY_SEARCH_PATH": json.dumps([str(prefix / "lib")]),
    }


def write_config(prefix: Path, run_dir: Path, port: int) -> Path:
    """Write the daemon's config and the OCDM plugin's, private to ``run_dir``."""
    config = json.loads((prefix / "etc" / "Thunder" / "config.json").read_text())
    for sub in ("volatile", "persistent", "postmortem", "plugins", "share"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    config.update(
        port=port,
        binding="127.0.0.1",
        volatilepath=f"{run_dir}/volatile/",
        persistentpath=f"{run_dir}/persistent/",
        postmortempath=f"{run_dir}/postmortem/",
        datapath=f"{prefix}/share/Thunder/",
        systempath=f"{prefix}/lib/thunder/plugins/",
        proxystubpath=f"{prefix}/lib/thunder/proxystubs/",
        configs=f"{run_dir}/plugins/",
        communicator=f"{run_dir}/communicator",
    )
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    ocdm = json.loads((prefix / "etc" / "Thunder" / "plugins" / "OCDM.json").read_text())
    # Nothing on a plain host provides the Provisioning precondition: without this the plugin
    # never activates.
    ocdm["precondition"] = []
    ocdm["startmode"] = "Activated"
    conf = ocdm.setdefault("configuration", {})
    conf["connector"] = str(run_dir / "ocdm")
    conf["sharepath"] = str(run_dir / "share")
    conf["systems"] = [s for s in conf.get("systems", []) if s.get("name") == "ClearKey"]
    if not conf["systems"]:
        raise SystemExit("ocdm-stack: the installed OCDM.json has no ClearKey system")
    (run_dir / "plugins" / "OCDM.json").write_text(json.dumps(ocdm, indent=2))
    return run_dir / "config.json"


def daemon_env(prefix: Path) -> dict[str, str]:
    """Return the daemon's environment (``ThunderPlugin`` on ``PATH``, the libraries found)."""
    env = dict(os.environ)
    env["PATH"] = f"{prefix}/bin:{env.get('PATH', '')}"
    env["LD_LIBRARY_PATH"] = f"{prefix}/lib" + (
        f":{env['LD_LIBRARY_PATH']}" if env.get("LD_LIBRARY_PATH") else ""
    )
    return env


def start(args: argparse.Namespace) -> int:
    """Start a private daemon in ``--run-dir``; wait for the OCDM socket; print its env."""
    prefix = built_prefix()
    run_dir = Path(args.run_dir).resolve()
    pid_file = run_dir / "thunder.pid"
    if pid_file.exists() and alive(int(pid_file.read_text())):
        raise SystemExit(f"ocdm-stack: a daemon already runs for {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    config = write_config(prefix, run_dir, port)
    log_file = (run_dir / "thunder.log").open("ab")
    # stdin is a pipe kept open by nobody: the daemon quits on 'Q' or on end of input is not
    # wanted, so it runs in background mode (-b) and is stopped with SIGTERM.
    proc = subprocess.Popen(
        [str(prefix / "bin" / "Thunder"), "-b", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=daemon_env(prefix),
        cwd=run_dir,
        start_new_session=True,
    )
    pid_file.write_text(str(proc.pid))
    (run_dir / "env").write_text(
        "".join(f"{k}={v}\n" for k, v in client_env(prefix, run_dir).items())
    )
    deadline = time.monotonic() + args.timeout
    socket_path = run_dir / "ocdm"
    while not socket_path.exists():
        if proc.poll() is not None:
            raise SystemExit(
                f"ocdm-stack: Thunder exited with {proc.returncode}; see {run_dir / 'thunder.log'}"
            )
        if time.monotonic() > deadline:
            stop_pid(proc.pid)
            log_file = run_dir / "thunder.log"
            raise SystemExit(
                f"ocdm-stack: OCDM did not come up in {args.timeout} s; see {log_file}"
            )
        time.sleep(0.05)
    sys.stdout.write((run_dir / "env").read_text())
    return 0


def alive(pid: int) -> bool:
    """Tell whether process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_pid(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the process group of ``pid``; SIGKILL it after ``grace`` seconds."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def stop(args: argparse.Namespace) -> int:
    """Stop the daemon of ``--run-dir``."""
    run_dir = Path(args.run_dir).resolve()
    pid_file = run_dir / "thunder.pid"
    if not pid_file.exists():
        log(f"no daemon recorded in {run_dir}")
        return 0
    stop_pid(int(pid_file.read_text()))
    pid_file.unlink()
    return 0


def show_env(args: argparse.Namespace) -> int:
    """Print the client environment of the daemon of ``--run-dir``."""
    env_file = Path(args.run_dir).resolve() / "env"
    if not env_file.exists():
        raise SystemExit(f"ocdm-stack: nothing started in {args.run_dir}")
    sys.stdout.write(env_file.read_text())
    return 0


def show_prefix(_args: argparse.Namespace) -> int:
    """Print the prefix of the built stack."""
    print(built_prefix())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="ocdm-stack", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the stack into the cache (or reuse it)")
    p_build.add_argument("--sources", help="directory of the six source archives")
    p_build.add_argument("--jobs", type=int, help="parallel build jobs (default: CPU count)")
    p_build.add_argument("--force", action="store_true", help="rebuild even when cached")
    p_build.set_defaults(func=build)
    sub.add_parser("prefix", help="print the installed prefix").set_defaults(func=show_prefix)
    for name, func in (("start", start), ("stop", stop), ("env", show_env)):
        p = sub.add_parser(name)
        p.add_argument(
            "--run-dir", required=True, help="private directory of the daemon's sockets and state"
        )
        if name == "start":
            p.add_argument("--port", type=int, help="JSON-RPC port (default: a free one)")
            p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for OCDM")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
