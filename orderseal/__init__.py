"""The application: the one composition root (app, services, CLI, server, demo, samples)."""
