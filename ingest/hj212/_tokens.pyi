# Types of the C kernels in _tokens.c (the HJ 212 fast path's byte-level passes): any C-contiguous
# buffer is accepted; numpy arrays are what the fast path passes.
from typing import Any, TypeAlias

import numpy as np

_Bytes: TypeAlias = bytes | bytearray | memoryview | np.ndarray[Any, Any]

def items(
    pos: _Bytes, classes: _Bytes, rs: _Bytes, re: _Bytes, /
) -> tuple[bytearray, bytearray, bytearray, bytearray, bytearray]: ...
def string_ids(data: _Bytes, starts: _Bytes, ends: _Bytes, /) -> tuple[bytearray, bytearray]: ...
def numbers(data: _Bytes, starts: _Bytes, ends: _Bytes, integers: bool, /) -> tuple[bytearray, bytearray]: ...
def classify(data: _Bytes, table: _Bytes, /) -> tuple[bytearray, bytearray]: ...
def frames(
    data: _Bytes,
    starts: _Bytes,
    ends: _Bytes,
    pos: _Bytes,
    classes: _Bytes,
    crc_t: _Bytes,
    crc_a: _Bytes,
    crc_init: _Bytes,
    max_data_len: int,
    /,
) -> tuple[bytearray, bytearray, bytearray, bytearray, bytearray]: ...
def repeats(
    row: _Bytes,
    slot: _Bytes,
    value: _Bytes,
    code: _Bytes,
    raw: _Bytes,
    n_rows: int,
    n_slots: int,
    n_codes: int,
    /,
) -> tuple[bytearray, bytearray]: ...
def datatimes(data: _Bytes, starts: _Bytes, ends: _Bytes, iso: bool, /) -> tuple[bytearray, bytearray]: ...
def records(
    data: _Bytes, start: int, head_len: int, /
) -> tuple[bytearray, bytearray, bytearray, bytearray, bytearray, bytearray, int, int]: ...
