"""OrderSeal capture.station package."""
