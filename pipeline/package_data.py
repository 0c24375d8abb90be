"""The files the package ships: `dictionaries/` (stop list, units, seed terms) and
`tfrecords_schema/` (the committed TFRecord schemas).

In a checkout they are the repository's top-level folders; an installed package
(`pip install .`, the container) carries copies as `pipeline/_data/` (setup.py
copies them at build time). `data_root()` is whichever exists, and `find(path)`
maps a repo-relative name such as `dictionaries/stopwords.txt` to its file, so
that a config outside the checkout still gets the bundled defaults.

Pure standard library: `pipeline.config` and `pipeline.layout` build on it.
"""

from __future__ import annotations

import functools
import importlib.resources
import os

FOLDERS = ("dictionaries", "tfrecords_schema")
# Where setup.py puts the copies inside the package.
PACKAGED = "_data"

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def data_root() -> str:
    """The folder holding `dictionaries/` and `tfrecords_schema/`: the checkout's
    root when running from one, else the installed package's `_data/`."""
    if all(os.path.isdir(os.path.join(_CHECKOUT, f)) for f in FOLDERS):
        return _CHECKOUT
    return str(importlib.resources.files("pipeline").joinpath(PACKAGED))


def find(path: str) -> str | None:
    """The bundled file for a relative name under one of FOLDERS (None if it is not one)."""
    parts = os.path.normpath(path).split(os.sep)
    if os.path.isabs(path) or parts[0] not in FOLDERS:
        return None
    candidate = os.path.join(data_root(), *parts)
    return candidate if os.path.isfile(candidate) else None
