"""Peak resident memory (RSS) of a process, sampled in a background thread.

In:  a process id (this process when left out) and, optionally, its children.
Out: `start_rss` (the first sample), `peak_rss` (the largest single process),
     `peak_total` (the largest sum over the process and its children) and
     `grown_bytes` (`peak_rss - start_rss`), in bytes.

The one sampler of the project: the nouns stage measures its central scoring
step with it, the dictionary stage its compiler child process, the bad-input
harness and the benchmarks whole pipeline runs. Sampling (not `ru_maxrss`)
because `ru_maxrss` cannot be reset: it would report the peak of everything the
process did before the step measured.
"""

from __future__ import annotations

import contextlib
import os
import threading


class PeakMemory:
    """Samples RSS every `every_s` seconds until stopped; a process that has gone away is skipped.

    As a context manager (`with PeakMemory() as m: ...`), or `m = PeakMemory(pid).start()`
    ... `m.stop()`. `children=True` also samples every descendant of the process.
    """

    def __init__(self, pid: int | None = None, *, children: bool = False, every_s: float = 0.02) -> None:
        self.pid = os.getpid() if pid is None else pid
        self._children, self._every_s = children, every_s
        self.start_rss = self.peak_rss = self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start_rss = self._sample()

    def _sample(self) -> int:
        """One sample: folds it into the peaks; returns the RSS of the process itself (0 if gone)."""
        import psutil

        rss = []
        own = 0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)] if self._children else [root]
            for p in processes:
                with contextlib.suppress(psutil.Error):
                    rss.append(p.memory_info().rss)
                    if p is root:
                        own = rss[-1]
        if rss:
            self.peak_rss = max(self.peak_rss, max(rss))
            self.peak_total = max(self.peak_total, sum(rss))
        return own

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self._sample()

    def start(self) -> PeakMemory:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def grown_bytes(self) -> int:
        return self.peak_rss - self.start_rss
