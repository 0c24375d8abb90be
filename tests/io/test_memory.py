"""The one memory sampler: this process, a child process and its process tree."""

import subprocess
import sys

from pipeline.io.memory import PeakMemory


def test_peak_memory_sees_this_process_grow():
    with PeakMemory(every_s=0.005) as memory:
        block = bytearray(64 << 20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    assert memory.start_rss > 0
    assert memory.peak_rss >= memory.start_rss
    assert memory.grown_bytes >= 32 << 20
    assert memory.peak_total == memory.peak_rss  # no children sampled
    del block


def test_peak_memory_of_a_child_and_its_tree():
    code = "import time; b = bytearray(48 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    memory = PeakMemory(proc.pid, children=True, every_s=0.01).start()
    proc.wait()
    memory.stop()
    assert memory.peak_rss >= 40 << 20
    assert memory.peak_total >= memory.peak_rss


def test_peak_memory_of_a_process_that_is_gone():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    memory = PeakMemory(proc.pid).start()
    memory.stop()
    assert (memory.start_rss, memory.peak_rss, memory.peak_total) == (0, 0, 0)
