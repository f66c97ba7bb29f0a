"""Gzip and deflate decompression with a cap on the output, streamed, so a bomb is refused early.

A few kilobytes of gzip can inflate to gigabytes. Every decompression of upstream bytes (HTTP
``Content-Encoding``, ``.gz`` files we gunzip ourselves) goes through :class:`Inflater`, which
never produces more than ``max_bytes`` and raises :class:`InflateError` the moment it would.
"""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_INFLATED_BYTES = 256 * 2**20
_STEP = 1 << 20  # output produced per decompress call: bounds memory whatever the ratio


class InflateError(ValueError):
    """Compressed bytes that are corrupt, or inflate beyond the cap (message says which)."""


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


class Inflater:
    """Incremental decompression of ``gzip`` (several members allowed) or ``deflate`` (zlib or raw)."""

    def __init__(self, encoding: str = "gzip", *, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> None:
        if encoding not in ("gzip", "deflate"):
            raise InflateError(f"unsupported compression {encoding!r}")
        self.encoding = encoding
        self.max_bytes = max_bytes
        self.produced = 0
        self._raw_deflate = False
        self._started = False
        self._obj = self._new()

    def _new(self) -> zlib._Decompress:
        if self.encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        """The bytes ``data`` inflates to (may be empty); raises once the total passes the cap."""
        out = bytearray()
        while True:
            if self._obj.eof:
                rest = self._obj.unused_data + data
                if self.encoding != "gzip" or not rest.strip(b"\0"):
                    break  # end of stream (zero padding after the last gzip member is allowed)
                self._obj, data = self._new(), rest  # a further member (``cat a.gz b.gz`` is valid gzip)
            try:
                chunk = self._obj.decompress(data, _STEP)
            except zlib.error as exc:
                if self.encoding == "deflate" and not self._started and not self._raw_deflate:
                    self._raw_deflate = True  # some servers send raw deflate without the zlib header
                    self._obj = self._new()
                    continue
                raise InflateError(f"corrupt {self.encoding} data ({exc})") from exc
            self._started = True
            self.produced += len(chunk)
            if self.produced > self.max_bytes:
                raise InflateError(
                    f"{self.encoding} data inflates beyond {self.max_bytes} bytes "
                    "(a decompression bomb, or raise the cap); refused"
                )
            out += chunk
            # at the end of a member the rest of the input is in unused_data (and may be repeated in
            # unconsumed_tail when the output limit was hit on the same call)
            data = b"" if self._obj.eof else self._obj.unconsumed_tail
            if not data and len(chunk) < _STEP and not self._obj.eof:
                break  # everything fed is inflated; wait for more input
        return bytes(out)

    def finish(self) -> None:
        """Raise when the stream ended in the middle of a member (a truncated file)."""
        if self._started and not self._obj.eof:
            raise InflateError(f"truncated {self.encoding} data (the stream ends inside a member)")
        if not self._started:
            raise InflateError(f"empty {self.encoding} data")


def gunzip(data: bytes, *, max_bytes: int = DEFAULT_MAX_INFLATED_BYTES) -> bytes:
    """The whole of a ``.gz`` body, refused with :class:`InflateError` beyond ``max_bytes``."""
    inflater = Inflater("gzip", max_bytes=max_bytes)
    out = inflater.feed(data)
    inflater.finish()
    return out


def gunzip_head(data: bytes, n: int) -> bytes:
    """At most the first ``n`` bytes a gzip body inflates to (for sniffing; never inflates the rest)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, n)
    except zlib.error as exc:
        raise InflateError(f"corrupt gzip data ({exc})") from exc
