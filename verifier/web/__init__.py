"""Agent pages: the dispute list and a dispute's decision at a glance (static HTML/JS/CSS)."""
