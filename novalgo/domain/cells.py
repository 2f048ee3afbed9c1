"""Yes or no, as a trader writes it in a sheet cell or an environment variable: one vocabulary.

A ticked checkbox reads TRUE, and people also type yes, on, 1, x or a tick mark. Each place adds
the words its own column means (a row is ``active`` or ``inactive``; trading is ``enabled`` or
``paused``); an empty cell is no only where the column says so. Pure.
"""

from __future__ import annotations

from typing import Iterable

YES = frozenset({"true", "yes", "y", "1", "on", "x", "✓", "✔", "checked"})
NO = frozenset({"false", "no", "n", "0", "off", "unchecked"})


def yes_no(text: object, refusal: str, also_yes: Iterable[str] = (), also_no: Iterable[str] = ()) -> bool:
    """True or False for the cell's words, or ValueError(``refusal``) for anything else."""
    folded = str(text).strip().lower()
    if folded in YES or folded in also_yes:
        return True
    if folded in NO or folded in also_no:
        return False
    raise ValueError(refusal)
