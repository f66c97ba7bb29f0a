"""The one grammar of a plain decimal number in upstream text: ASCII digits with an optional sign,
decimal point and exponent (``12``, ``-0.5``, ``.5``, ``5.``, ``1e3``). What Python's ``float()``
reads beyond it (``1_5``, `` 7``, full-width digits, ``inf``) is no number a logger or a published
file writes: each parser refuses it with its reason."""

from __future__ import annotations

import re

PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
PLAIN_INT = re.compile(r"[+-]?[0-9]{1,15}")  # fits an int64 column
