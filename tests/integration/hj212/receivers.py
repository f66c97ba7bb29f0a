"""A real receiver for one test: started on a free loopback port, ``body`` run against it, stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ingest.hj212.receiver import Receiver, ReceiverConfig


def run_receiver(
    tmp_path: Path, body: Callable[[Receiver], Awaitable[None]], *, receiver_id: str, **cfg: Any
) -> Receiver:
    """Run ``body`` against a receiver landing under ``tmp_path/raw/hj212``; returns it stopped."""
    config = ReceiverConfig(
        landing_dir=tmp_path / "raw" / "hj212", host="127.0.0.1", port=0, receiver_id=receiver_id, **cfg
    )

    async def main() -> Receiver:
        async with Receiver(config) as r:
            await body(r)
        return r

    return asyncio.run(main())
