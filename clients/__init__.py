"""OrderSeal clients: the station, buyer and platform HTTP clients and the station tool.

A packing station installs this package without the server: it imports only
``keys.attestation`` (with ``keys.errors``), ``keys.backends.pem`` to write its key
with mode 0600, and ``infra.errors`` for the error base; the import contract
``clients-standalone`` in ``.importlinter`` holds that.
"""
