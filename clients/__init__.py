"""OrderSeal clients: the station, buyer and platform HTTP clients and the station tool.

A packing station installs this package without the server (the ``orderseal-station``
distribution, packaging/station/): of ours it imports only ``wire`` (the device proofs, the error
base and the 0600 key-file writer); the import contract ``clients-standalone`` in
``.importlinter`` holds that.
"""
