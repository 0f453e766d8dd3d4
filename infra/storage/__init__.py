"""OrderSeal infra.storage package."""
