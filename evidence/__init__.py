"""What both domains read: the capture assertion, the C2PA reader, media containers."""
