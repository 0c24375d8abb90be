"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_demo_config(folder) -> str:
    """folder/pipeline.yaml: the repo's config with output_root folder/out and every
    repo path made absolute; returns its path."""
    import yaml

    with open(os.path.join(REPO, "pipeline.yaml"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["output_root"] = str(folder / "out")
    for spec in data["inputs"]:
        spec["glob"] = os.path.join(REPO, spec["glob"])
    return write_config(folder, _absolute_repo_paths(data))


def _absolute_repo_paths(value):
    """Relative paths in the config that name repo files (word lists...) -> absolute."""
    if isinstance(value, dict):
        return {k: _absolute_repo_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_repo_paths(v) for v in value]
    if isinstance(value, str) and value and not os.path.isabs(value) and "://" not in value:
        candidate = os.path.join(REPO, value)
        if os.path.isfile(candidate):
            return candidate
    return value


def run_cli(config, *args, timeout=900):
    """`python -m pipeline ARGS --config CONFIG` as a user runs it; returns the CompletedProcess."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        # --config first: ARGS may end with `-- BEAM FLAGS`.
        [sys.executable, "-m", "pipeline", "--config", config, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(tmp_path, data) -> str:
    import yaml

    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def read_tree(root) -> dict[str, bytes]:
    """Every file under root: relative path -> bytes (for byte-identity checks)."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def copy_tree(src: str, dst: str) -> None:
    shutil.copytree(src, dst)


def demo_golden() -> dict:
    """The demo corpus's exact counters per stage (tests/data/expected/demo_counters.json)."""
    import json

    with open(os.path.join(REPO, "tests", "data", "expected", "demo_counters.json"), encoding="utf-8") as f:
        return json.load(f)


# ------------------------------------------------------------------ pages in a real browser


class _References(html.parser.HTMLParser):
    """Every src/href value and every @import / url() in <style> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "poster", "data", "action") and value:
                self.urls.append(value)

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.urls += re.findall(r"@import\s+(?:url\()?['\"]?([^'\")\s;]+)", data)
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)


def external_references(page: str) -> list[str]:
    """References that leave the page: anything but #anchors, relative paths and data: URLs."""
    parser = _References()
    parser.feed(page)
    return [
        u
        for u in parser.urls
        if re.match(r"^\s*([a-z][a-z0-9+.-]*:|//)", u, re.I) and not u.startswith("data:")
    ]


def chromium_command(*args: str) -> list[str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return None
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        *args,
    ]


def render_offline(page: str, screenshot: os.PathLike | str) -> str:
    """The DOM headless Chromium builds from `page` (a local HTML file) with every host
    unresolvable, so a request that left the page would fail rather than hang; writes a
    full-page screenshot beside it. Call only where chromium_command() is not None."""
    import tempfile

    offline = "--host-resolver-rules=MAP * ~NOTFOUND"
    with tempfile.TemporaryDirectory() as profile:
        common = (f"--user-data-dir={profile}", offline)
        dom = subprocess.run(
            chromium_command(*common, "--dump-dom", f"file://{page}"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        shot = subprocess.run(
            chromium_command(
                *common, f"--screenshot={screenshot}", "--window-size=1280,4000", f"file://{page}"
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shot.returncode == 0, shot.stderr[-2000:]
    return dom.stdout


# ------------------------------------------------------------------ library noise

# Lines that libraries print on a CPU machine and that mean nothing to a user.
NOISE = (
    "Unable to register cu",  # cuFFT / cuDNN / cuBLAS factories
    "Could not find TensorRT",
    "TF-TRT",
    "oneDNN custom operations",
    "FutureWarning",
    "DeprecationWarning",
    "tf_record_iterator",
    "Local rendezvous is aborting",
    "property_predicate is not supported",
    "push the model without validation",
    "semi_persistent_directory",
    "Discarding unparseable args",
    "python-snappy",
    "Traceback",
)


def library_noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(n in line for n in NOISE)]
