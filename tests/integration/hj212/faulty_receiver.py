"""A real receiver process whose segment I/O fails at random: the fault injector of the soak test.

    python tests/integration/hj212/faulty_receiver.py --faults-log F.jsonl --seed 7 --fault-rate 0.01 \\
        --kill-rate 0.001 -- --landing-dir … --port 0 …      (the arguments after -- are the receiver's)

Every call of the segment writers' :class:`~ingest.hj212.segments.SegmentIO` may raise the
``OSError`` a full, failing or descriptor-starved disk gives for that call (ENOSPC, EIO, EMFILE;
a failing write first writes part of its bytes; calls made a few times per segment rather than per
commit fail five times as often), or SIGKILL the process just before or just after doing its work.  Each injected fault is appended to ``--faults-log`` (one JSON line, written
before it takes effect, so a kill is logged too).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.hj212.receiver import main as receiver_main  # noqa: E402
from ingest.hj212.segments import SegmentIO  # noqa: E402

T = TypeVar("T")

# what each call can fail with on a real system
ERRORS: dict[str, tuple[int, ...]] = {
    "open": (errno.EMFILE, errno.ENOSPC),
    "write": (errno.ENOSPC, errno.EIO),
    "datasync": (errno.EIO,),
    "fsync": (errno.EIO,),
    "truncate": (errno.EIO,),
    "replace": (errno.EIO,),
    "write_file": (errno.ENOSPC, errno.EIO),
    "fsync_dir": (errno.EMFILE, errno.EIO),
}
RARE = frozenset(
    {"open", "truncate", "replace", "write_file", "fsync_dir"}
)  # a few per segment, not per commit


class RandomFaultIO(SegmentIO):
    def __init__(self, log_path: Path, seed: int, fault_rate: float, kill_rate: float) -> None:
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.kill_rate = kill_rate
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _log(self, **event: object) -> None:
        os.write(self.log_fd, (json.dumps(event) + "\n").encode())

    def _maybe_kill(self, op: str, when: str) -> None:
        if self.rng.random() < self.kill_rate:
            self._log(op=op, fault="SIGKILL", when=when)
            os.kill(os.getpid(), signal.SIGKILL)

    def _call(self, op: str, do: Callable[[], T], partial: Callable[[], object] | None = None) -> T:
        self._maybe_kill(op, "before")
        if self.rng.random() < (self.fault_rate * 5 if op in RARE else self.fault_rate):
            err = self.rng.choice(ERRORS[op])
            self._log(op=op, fault=errno.errorcode[err])
            if partial is not None:
                partial()
            raise OSError(err, os.strerror(err))
        result = do()
        self._maybe_kill(op, "after")
        return result

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        return self._call("open", lambda: SegmentIO.open(self, path, flags, mode))

    def write(self, fd: int, data: memoryview) -> int:
        cut = self.rng.randrange(len(data)) if len(data) else 0
        return self._call("write", lambda: SegmentIO.write(self, fd, data), lambda: os.write(fd, data[:cut]))

    def datasync(self, fd: int) -> None:
        self._call("datasync", lambda: SegmentIO.datasync(self, fd))

    def fsync(self, fd: int) -> None:
        self._call("fsync", lambda: SegmentIO.fsync(self, fd))

    def truncate(self, fd: int, size: int) -> None:
        self._call("truncate", lambda: SegmentIO.truncate(self, fd, size))

    def replace(self, src: Path, dst: Path) -> None:
        self._call("replace", lambda: SegmentIO.replace(self, src, dst))

    def write_file(self, path: Path, data: bytes) -> None:
        self._call("write_file", lambda: SegmentIO.write_file(self, path, data))

    def fsync_dir(self, path: Path) -> None:
        self._call("fsync_dir", lambda: SegmentIO.fsync_dir(self, path))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    split = args.index("--") if "--" in args else len(args)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faults-log", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fault-rate", type=float, default=0.01, help="probability that an I/O call fails")
    p.add_argument("--kill-rate", type=float, default=0.0, help="probability of SIGKILL around an I/O call")
    a = p.parse_args(args[:split])
    io = RandomFaultIO(a.faults_log, a.seed, a.fault_rate, a.kill_rate)
    return receiver_main(args[split + 1 :], segment_io=io)


if __name__ == "__main__":
    sys.exit(main())
