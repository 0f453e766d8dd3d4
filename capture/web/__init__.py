"""The buyer capture page: static HTML/JS/CSS served by the capture service at ``/capture``."""
