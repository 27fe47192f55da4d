"""Finding pickles in a model folder: every file, every member of a zip (a skops file), every
.npy's dtype. Used by the tests that check a model holds no pickle.

A pickle of protocol 2 or later starts with the PROTO opcode (0x80, then the protocol) and
ends with STOP (b"."); one of protocol 0 or 1 has no mark, so any other file counts as a
pickle when it parses whole as pickle opcodes ending in STOP. A .npy of objects is a pickle
inside numpy's header.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

PROTO, STOP = 0x80, b"."
HIGHEST_PROTOCOL = 5


def is_pickle(data: bytes) -> bool:
    """True if `data` is one whole pickle stream, of any protocol (0 to 5)."""
    if len(data) >= 2 and data[0] == PROTO and 2 <= data[1] <= HIGHEST_PROTOCOL:
        return data.endswith(STOP)
    stream = io.BytesIO(data)
    try:
        opcodes = list(pickletools.genops(stream))
    except Exception:  # whatever does not parse as pickle opcodes is not a pickle
        return False
    return bool(opcodes) and opcodes[-1][0].name == "STOP" and stream.tell() == len(data)


def npy_holds_objects(data: bytes) -> bool:
    """True for a .npy file of Python objects (numpy pickles them)."""
    import numpy as np

    stream = io.BytesIO(data)
    major, _ = np.lib.format.read_magic(stream)
    header = (
        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    )
    _, _, dtype = header(stream, max_header_size=1 << 20)
    return dtype.hasobject


def pickles_in(name: str, data: bytes) -> list[str]:
    """The pickle streams in one file's bytes, by name (`file!member` inside a zip)."""
    if data.startswith(b"\x93NUMPY"):
        return [f"{name} (an array of objects)"] if npy_holds_objects(data) else []
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [
                found
                for member in archive.namelist()
                for found in pickles_in(f"{name}!{member}", archive.read(member))
            ]
    return [name] if is_pickle(data) else []


def pickles_in_folder(folder: Path) -> tuple[int, list[str]]:
    """How many files `folder` holds, and the pickle streams among them."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    found = [
        hit
        for path in files
        for hit in pickles_in(str(path.relative_to(folder)), path.read_bytes())
    ]
    return len(files), found
