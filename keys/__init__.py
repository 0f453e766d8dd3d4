"""OrderSeal keys package."""
