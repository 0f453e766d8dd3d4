"""OrderSeal keys.backends package."""
