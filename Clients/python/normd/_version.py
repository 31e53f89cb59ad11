"""The package version: the daemon's (``normd --version``, ``NormdCommand.version`` in
``Sources/normd/NormdCommand.swift``); ``tests/test_package.py`` keeps the two equal.
"""

__version__ = "0.1.0"
