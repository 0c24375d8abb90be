"""A guard that refuses and records network access (and reads of one canary file) in every process of a run.

    env = guard_env(folder, log_path, canary="canary.txt")
    subprocess.run([sys.executable, "-m", "pipeline", ...], env={**os.environ, **env})

`guard_env` writes a two-line `sitecustomize.py` into `folder` and returns the
environment that puts it on PYTHONPATH, so the CLI and every Beam worker
process it starts install an audit hook (PEP 578) at start-up. The hook lets
loopback and Unix-socket connections through (the DirectRunner's workers talk
to the runner over localhost) and refuses, by raising PermissionError, any
other `socket.connect`/`sendto`, any name lookup of a host that is not local,
any `urllib` request, and any `open` of a path containing the canary name.
Each process appends 'pid N: installed' to the log file when the hook goes
in, and one 'pid N: refused ...' line per refusal: a log with installed
lines only means every process was guarded and nothing tried to leave the
machine or read the canary.
"""

from __future__ import annotations

import os
import sys

LOG_ENV = "PIPELINE_NETGUARD_LOG"
CANARY_ENV = "PIPELINE_NETGUARD_CANARY"
SITECUSTOMIZE = "from pipeline.tools import netguard\n\nnetguard.install_from_env()\n"
_LOCAL_HOSTS = frozenset({"", "localhost", "ip6-localhost", "::1", "::", "0.0.0.0"})
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_LOOKUP_EVENTS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"})


def is_local(host) -> bool:
    """True for loopback names and addresses (and None: no host, e.g. a Unix socket)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).lower()
    return host in _LOCAL_HOSTS or host.startswith("127.") or host == os.uname().nodename.lower()


def refusal(event: str, args: tuple, canary: str) -> str | None:
    """Why the audit event `event(*args)` must be refused, or None to let it through."""
    if event in _SOCKET_EVENTS:
        address = args[1] if len(args) > 1 else None
        host = address[0] if isinstance(address, tuple) and address else None
        return None if is_local(host) else f"{event} to {address!r}"
    if event in _LOOKUP_EVENTS:
        return None if is_local(args[0]) else f"{event} of {args[0]!r}"
    if event == "urllib.Request":
        return f"urllib request for {args[0]!r}"
    if event == "open" and canary:
        path = args[0]
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if isinstance(path, str) and canary in path:
            return f"open of {path!r}"
    return None


def install(log_path: str, canary: str = "") -> None:
    """Add the audit hook to this process (it cannot be removed)."""
    busy = False
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(f"pid {os.getpid()}: installed\n")

    def hook(event: str, args: tuple) -> None:
        nonlocal busy
        if busy:  # writing the log is itself an `open` event
            return
        why = refusal(event, args, canary)
        if why is None:
            return
        busy = True
        try:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"pid {os.getpid()}: refused {why}\n")
        finally:
            busy = False
        raise PermissionError(f"netguard: refused {why}")

    sys.addaudithook(hook)


def install_from_env() -> None:
    log_path = os.environ.get(LOG_ENV)
    if log_path:
        install(log_path, os.environ.get(CANARY_ENV, ""))


def guard_env(folder: str, log_path: str, canary: str = "") -> dict[str, str]:
    """Write `folder/sitecustomize.py`; returns the environment variables that activate it."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w", encoding="utf-8") as f:
        f.write(SITECUSTOMIZE)
    # pipeline/tools/netguard.py -> the repository (no project imports: this runs in sitecustomize)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = [folder, repo] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(paths), LOG_ENV: log_path, CANARY_ENV: canary}
