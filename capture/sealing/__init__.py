"""The c2pa Builder adapter: the only capture code that imports c2pa (private API fenced here)."""
