"""Build hook: the package carries the repository's data folders.

Everything else about the package is in pyproject.toml. `dictionaries/` (the
bundled stop list, units and seed terms) and `tfrecords_schema/` (the committed
TFRecord schemas) stay at the top of the repository, where the project keeps
them; building a wheel copies them to `pipeline/_data/`, where
`pipeline.package_data` finds them when no checkout is around. An editable
install (`pip install -e .`, scripts/setup.sh) reads them from the checkout.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("dictionaries", "tfrecords_schema")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder in DATA_FOLDERS:
            self.copy_tree(folder, os.path.join(self.build_lib, "pipeline", "_data", folder))


setup(cmdclass={"build_py": BuildPyWithData})
