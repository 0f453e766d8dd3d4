"""OrderSeal infra.ledger package."""
