"""OrderSeal capture package."""
