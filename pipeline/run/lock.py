"""One writer per output root: the lock `run`, `stage` and `train` hold while they write.

In: an output root. Out: `<output_root>/.pipeline.lock`, a small JSON file naming
the holder (host, pid, start time, command), present exactly while a writer runs.
A second writer on the same root gets `OutputLocked` naming the holder (the CLI
exits 2); readers (`status`, `config`, `build-job`) never take it.

Local roots: the lock is an exclusive `flock` on that file, which the kernel
drops when the holder dies however it dies, so a lock file left by a dead
process is known to be stale: it is taken over with a warning. The file is
removed on exit, success or failure.

gs:// (object store) roots: Beam's FileSystems has no atomic create-if-absent
and no lock, so the lock there is advisory: the file is written if absent and
read back to check that this process holds it. That stops a second run started
any time after the first (the usual mistake); two runs started within the
same second can both pass. A lock left by a dead process on this host is taken
over; one from another host is reported and must be removed by hand once that
host's run is known to be dead.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from typing import Any

from apache_beam.io.filesystems import FileSystems

from pipeline.io import filesystems

log = logging.getLogger(__name__)

LOCK_FILE = ".pipeline.lock"


class OutputLocked(RuntimeError):
    """Another writer holds the output root."""


def _holder_text(holder: dict[str, Any]) -> str:
    return (
        f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
        f"since {holder.get('started_at', '?')} ({holder.get('command', '?')})"
    )


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True  # someone else's process (or an unreadable pid): assume alive
    return True


def _parse(data: bytes) -> dict[str, Any]:
    try:
        holder = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


class OutputLock:
    """`with OutputLock(root, "stage clean"):` holds `<root>/.pipeline.lock` for the block."""

    def __init__(self, root: str, command: str) -> None:
        self.path = filesystems.join(root, LOCK_FILE)
        self._root = root
        self._fd: int | None = None
        self.holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": command,
        }

    def __enter__(self) -> OutputLock:
        if filesystems.is_local(self.path):
            self._acquire_local()
        else:
            self._acquire_object_store()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------ local

    def _acquire_local(self) -> None:
        import fcntl

        os.makedirs(self._root, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _parse(os.pread(fd, 4096, 0))
                if not holder:  # the holder has the lock but has not written its name yet
                    time.sleep(0.2)
                    holder = _parse(os.pread(fd, 4096, 0))
                os.close(fd)
                raise OutputLocked(f"{self._root} is in use by another run: {_holder_text(holder)}") from None
            # The holder before us may have removed the file after we opened it:
            # then our lock is on a name nobody else sees; open the file again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _parse(os.pread(fd, 4096, 0))
        if previous:
            # We hold the flock, so its holder is gone (killed before it could clean up).
            log.warning("taking over a stale lock on %s left by %s", self._root, _holder_text(previous))
            print(f"warning: took over a stale lock left by {_holder_text(previous)}", file=sys.stderr)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.holder).encode("utf-8"), 0)
        self._fd = fd

    # ------------------------------------------------------------------ object stores

    def _acquire_object_store(self) -> None:
        if FileSystems.exists(self.path):
            holder = _parse(filesystems.read_bytes(self.path))
            stale = holder.get("host") == self.holder["host"] and not _pid_alive(holder.get("pid"))
            if not stale:
                raise OutputLocked(
                    f"{self._root} is in use by another run: {_holder_text(holder)} "
                    f"(if that run is dead, delete {self.path})"
                )
            print(f"warning: took over a stale lock left by {_holder_text(holder)}", file=sys.stderr)
        filesystems.write_bytes(self.path, json.dumps(self.holder).encode("utf-8"))
        holder = _parse(filesystems.read_bytes(self.path))
        if holder != self.holder:
            raise OutputLocked(f"{self._root} is in use by another run: {_holder_text(holder)}")
        self._fd = -1

    def release(self) -> None:
        if self._fd is None:
            return
        if self._fd >= 0:
            # Remove the name while still holding the lock, then drop the lock.
            try:
                os.remove(self.path)
            finally:
                os.close(self._fd)
        elif FileSystems.exists(self.path):
            FileSystems.delete([filesystems.literal(self.path)])
        self._fd = None
