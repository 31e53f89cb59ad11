"""The package version.

normd has no release number of its own yet (``normd`` has no ``--version`` and no version constant
in ``Sources/normd``); the client starts at 0.1.0 and moves with the daemon from its first release.
"""

__version__ = "0.1.0"
