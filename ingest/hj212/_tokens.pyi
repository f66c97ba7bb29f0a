# Types of the C kernels in _tokens.c (the HJ 212 fast path's byte-level passes): any C-contiguous
# buffer is accepted; numpy arrays are what the fast path passes.
from typing import Any, TypeAlias

import numpy as np

_Bytes: TypeAlias = bytes | bytearray | memoryview | np.ndarray[Any, Any]

def items(
    pos: _Bytes, classes: _Bytes, rs: _Bytes, re: _Bytes, commas: bool, /
) -> tuple[bytearray, bytearray, bytearray, bytearray, bytearray]: ...
def string_ids(data: _Bytes, starts: _Bytes, ends: _Bytes, /) -> tuple[bytearray, bytearray]: ...
def numbers(data: _Bytes, starts: _Bytes, ends: _Bytes, integers: bool, /) -> tuple[bytearray, bytearray]: ...
def classify(data: _Bytes, table: _Bytes, /) -> tuple[bytearray, bytearray]: ...
