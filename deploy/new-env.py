"""Write .env for docker-compose.yml from .env.example, each change-me replaced by a fresh secret.

Usage: python3 deploy/new-env.py [--output .env]. Refuses to overwrite an existing file. Standard
library only, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
from pathlib import Path

PLACEHOLDER = "change-me"
ROOT = Path(__file__).resolve().parent.parent


def new_secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":  # Fernet wants exactly 32 bytes, URL-safe base64
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(24)  # URL-safe: these end up in connection strings


def fill(template: str) -> str:
    lines = []
    for line in template.splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip() == PLACEHOLDER:
            lines.append(f"{name}={new_secret(name.strip())}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / ".env")
    parser.add_argument("--template", type=Path, default=ROOT / ".env.example")
    args = parser.parse_args(argv)
    if args.output.exists():
        print(f"{args.output} exists: not overwritten (delete it first to start afresh)", file=sys.stderr)
        return 1
    args.output.write_text(fill(args.template.read_text(encoding="utf-8")), encoding="utf-8")
    args.output.chmod(0o600)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
