"""The one storage error the node cannot recover from by itself."""

from __future__ import annotations


class StorageCorrupt(Exception):
    """The stored chain or state is damaged or is not ours: stop, and tell the operator.

    Raised for checksum mismatches, undecodable records, a database of another chain or
    schema, a file that is not a database, and a state that disagrees with the blocks.
    The message names the file (or store) and what is wrong; never retry on it.
    """
