"""tinygrad_be: a small reverse-mode autograd framework on numpy."""
