"""Seeds derived by name from one root seed, so adding a stage never shifts another's randomness.

``derive(root, "programming")`` is the seed of the stage called "programming" in a
run seeded ``root``: numpy's SeedSequence with the root as entropy and the
stage's name (its SHA-256) as spawn key, reduced to 63 bits (fits torch's
``manual_seed`` and numpy's generators). Names, not offsets: ``root + 10`` of one
run is ``root + 0`` of another, and two stages that both add 1 collide.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key(name: str) -> tuple[int, ...]:
    if not isinstance(name, str) or not name:
        raise ValueError(f"stage name {name!r}: must be non-empty text")
    digest = hashlib.sha256(name.encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def derive(root: int, *names: str) -> int:
    """The seed of the stage ``names`` (a path: ``derive(s, "repeat", "3")``) under ``root`` (an int >= 0)."""
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or root < 0:
        raise ValueError(f"root seed {root!r}: must be a whole number >= 0")
    key = tuple(k for name in names for k in _key(name))
    words = np.random.SeedSequence(int(root), spawn_key=key).generate_state(2, np.uint32)
    return (int(words[0]) << 31 | int(words[1]) >> 1) & ((1 << 63) - 1)


def table(root: int, names: list[str] | tuple[str, ...]) -> dict[str, int]:
    """``{name: derive(root, name)}``: the seeds a results file records."""
    return {name: derive(root, name) for name in names}
