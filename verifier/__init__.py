"""OrderSeal verifier package."""
