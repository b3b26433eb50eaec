"""`python -m tests.bench.serve_loopback serve --port P`: the real server, ICE on 127.0.0.1.

The only difference from `notarylink serve` is the loopback patch (tests/bench/loopback.py);
no product code is changed or wrapped.
"""

from __future__ import annotations

import sys

from tests.bench.loopback import allow_loopback_ice

if __name__ == "__main__":
    allow_loopback_ice()
    from signaling.cli import main

    raise SystemExit(main(sys.argv[1:]))
