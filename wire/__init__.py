"""What a device and the server both run, beneath every other package of ours.

``wire.errors`` (the error base with its stable code), ``wire.attestation`` (the capture
statement and the signed request a device makes) and ``wire.keyfile`` (the one writer of
private-key files). It imports nothing of ours and of third parties only cryptography, so the
``orderseal-station`` distribution ships it beside ``clients`` (docs/architecture.md).
"""
