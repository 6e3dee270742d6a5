"""Values read as numbers, with the indicator's value type from the catalog."""

from __future__ import annotations

import unicodedata

from tonghop.numbers import finite_number, read_number
from tonghop.parse import ParsedFile


def nfc(text: str) -> str:
    # ASCII is always NFC: most cells skip the normalization.
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def parse_number(raw: str) -> float | None:
    """The number a raw value holds, or None when it is not a finite number.

    >>> parse_number("14103"), parse_number("51.23"), parse_number("12a"), parse_number("nan")
    (14103.0, 51.23, None, None)
    """
    return read_number(raw)[0]


# (unit_code, period) -> [indicator_code, raw, number, location, note] rows, in file order
Groups = list[tuple[tuple[str, str], list[list]]]


def read_values(name: str, parsed: ParsedFile) -> Groups:
    """A parsed file's values grouped by unit and period, each read as a number.

    How a number was read, where that needs saying, is added to `parsed.warnings`.
    """
    kinds = value_kinds()
    groups: dict[tuple[str, str], list[list]] = {}
    for r in parsed.values:
        groups.setdefault((r.unit_code, r.period), []).append(r)
    out: Groups = []
    for key, rows in groups.items():
        read = []
        for r in rows:
            if r.number is not None:  # typed as a number by the file: nothing to read
                number, how = finite_number(r.raw, r.number)
            else:
                number, how = read_number(r.raw, *kinds.get(r.indicator_code, _UNKNOWN))
            if how:
                parsed.warnings.append(f"Tệp '{name}', {r.location}: {how}.")
            read.append([r.indicator_code, r.raw, number, r.location, r.note])
        out.append((key, read))
    return out


_KINDS: dict[int, dict[str, tuple[str, str]]] = {}
_UNKNOWN = (None, None)  # a code outside the catalog: no value type, no unit


def value_kinds() -> dict[str, tuple[str, str]]:
    """Each indicator's value type and unit, as `read_number` takes them."""
    from tonghop.catalog import load_catalog

    # Looked up once per catalog, not once per value.
    catalog = load_catalog()
    if id(catalog) not in _KINDS:
        _KINDS.clear()
        _KINDS[id(catalog)] = {ind.code: (ind.value_type, ind.unit) for ind in catalog}
    return _KINDS[id(catalog)]
