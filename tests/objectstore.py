"""A Beam FileSystem for tests: `objstore://bucket/key` paths with GCS semantics, kept in a local folder.

Like gs:// it has no folders: a folder's name never exists, listing is by
prefix, and deleting a folder's name deletes nothing. A pipeline run against
it shows that stages reach their data only through Beam's FileSystems (a
plain `open()` of an `objstore://` path fails) and that they work on
folder-less storage, as on Dataflow.
"""

from __future__ import annotations

import os
import posixpath
import shutil

from apache_beam.io.filesystem import CompressedFile, CompressionTypes, FileMetadata, FileSystem

SCHEME = "objstore"


class ObjectStoreFileSystem(FileSystem):
    root = ""  # the local folder holding the objects; set by the test

    @classmethod
    def scheme(cls):
        return SCHEME

    def _local(self, url: str) -> str:
        _, key = self._split_scheme(url)
        return os.path.join(self.root, key)

    def _url(self, local: str) -> str:
        return f"{SCHEME}://" + os.path.relpath(local, self.root).replace(os.sep, "/")

    def join(self, basepath, *paths):
        path = basepath
        for p in paths:
            path = path.rstrip("/") + "/" + p.lstrip("/")
        return path

    def split(self, path):
        scheme, rest = self._split_scheme(path)
        head, tail = posixpath.split(rest)
        return f"{scheme}://{head}", tail

    def mkdirs(self, path):
        pass

    def has_dirs(self):
        return False

    def _list(self, prefix):
        for dirpath, _, names in os.walk(self.root):
            for name in names:
                local = os.path.join(dirpath, name)
                url = self._url(local)
                if url.startswith(prefix):
                    yield FileMetadata(url, os.path.getsize(local), os.path.getmtime(local))

    def _open(self, path, mode, compression_type):
        compression_type = FileSystem._get_compression_type(path, compression_type)
        raw = open(self._local(path), mode)  # noqa: SIM115 (the caller closes it)
        if compression_type == CompressionTypes.UNCOMPRESSED:
            return raw
        return CompressedFile(raw, compression_type=compression_type)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        os.makedirs(os.path.dirname(self._local(path)), exist_ok=True)
        return self._open(path, "wb", compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._open(path, "rb", compression_type)

    def copy(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            os.makedirs(os.path.dirname(self._local(dst)), exist_ok=True)
            shutil.copyfile(self._local(src), self._local(dst))

    def rename(self, source_file_names, destination_file_names):
        self.copy(source_file_names, destination_file_names)
        self.delete(source_file_names)

    def exists(self, path):
        return os.path.isfile(self._local(path))

    def size(self, path):
        return os.path.getsize(self._local(path))

    def last_updated(self, path):
        return os.path.getmtime(self._local(path))

    def checksum(self, path):
        return str(self.size(path))

    def metadata(self, path):
        return FileMetadata(path, self.size(path), self.last_updated(path))

    def delete(self, paths):
        for path in paths:
            pattern = path + "*" if path.endswith("/") else path
            for m in self.match([pattern])[0].metadata_list:
                os.remove(self._local(m.path))
