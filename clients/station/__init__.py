"""The `orderseal station` tool: enrolment, sessions, the offline capture queue."""
