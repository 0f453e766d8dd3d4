"""OrderSeal infra package."""
