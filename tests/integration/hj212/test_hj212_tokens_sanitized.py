"""The HJ 212 parser's C kernels under AddressSanitizer and UndefinedBehaviorSanitizer.

``_tokens.c`` reads bytes that arrive from the network. Its contract tests (Hypothesis: random
layouts, random byte strings, hostile ranges and sizes), the batch parser's tests and the real
captures run here against a build of the same source with both sanitizers, in a child process that
preloads their runtimes and imports that build in place of the installed module. A read outside a
buffer, an overflow or any undefined behaviour aborts the child with the sanitizer's report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
MODULE = "ingest.hj212._tokens"
SUITES = [
    "tests/unit/hj212/test_hj212_tokens.py",
    "tests/unit/hj212/test_hj212_batch.py",
    "tests/unit/hj212/test_hj212_hot_paths.py",
    "tests/unit/hj212/test_hj212_real_captures.py",
]
MARKER = "sanitized kernels loaded from "

# The child: load the sanitized build as ingest.hj212._tokens before anything imports the parser,
# say which file it loaded, then run the suites.
CHILD = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location({MODULE!r}, sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.modules[{MODULE!r}] = module
from ingest.hj212 import batch
print({MARKER!r} + batch._tokens.__file__, flush=True)
import pytest
raise SystemExit(pytest.main(sys.argv[2:]))
"""


def _runtime(name: str) -> str:
    path = subprocess.run(
        ["gcc", f"-print-file-name={name}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not os.path.isabs(path):  # gcc echoes the bare name when it has no such library
        pytest.fail(f"gcc has no {name}: install the sanitizer runtimes (Debian: libasan8, libubsan1)")
    return path


def _declared() -> dict[str, Any]:
    """The extension as pyproject.toml declares it for the installed build (sources, compile flags)."""
    with (REPO / "pyproject.toml").open("rb") as f:
        modules = tomllib.load(f)["tool"]["setuptools"]["ext-modules"]
    return next(m for m in modules if m["name"] == MODULE)


def _build(out_dir: Path) -> Path:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the HJ 212 kernels (see README)")
    declared = _declared()
    warnings = [f for f in declared.get("extra-compile-args", []) if not f.startswith("-O")]
    sanitizers = [
        "-O1",
        "-g",
        "-fno-omit-frame-pointer",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
    ]
    out = out_dir / f"{MODULE.rpartition('.')[2]}{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = f"-I{sysconfig.get_paths()['include']}"
    sources = [str(REPO / s) for s in declared["sources"]]
    subprocess.run(
        ["gcc", "-shared", "-fPIC", *sanitizers, *warnings, include, *sources, "-o", str(out)], check=True
    )
    return out


@pytest.mark.slow
def test_kernels_pass_their_tests_under_address_and_undefined_behaviour_sanitizers(tmp_path: Path) -> None:
    built = _build(tmp_path)
    env = {
        **os.environ,
        "LD_PRELOAD": f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
        # Python's own allocator would hide the kernels' buffers and bytearrays from AddressSanitizer
        "PYTHONMALLOC": "malloc",
        # Python frees little at exit by design: leaks are not what this run looks for
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }
    # --capture=sys: a sanitizer writes its report to file descriptor 2, which must reach this process
    args = [sys.executable, "-c", CHILD, str(built), "-q", "--capture=sys", *SUITES]
    done = subprocess.run(args, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    # the sanitizer's report, where there is one: the stack Python prints after the abort follows it
    found = [done.stderr.find(s) for s in ("ERROR: AddressSanitizer", "runtime error:")]
    start = min([i for i in found if i >= 0], default=max(0, len(done.stderr) - 6000))
    report = done.stdout[-3000:] + done.stderr[start : start + 6000]
    assert done.returncode == 0, report
    assert MARKER + str(built) in done.stdout, report
    assert "passed" in done.stdout, report
