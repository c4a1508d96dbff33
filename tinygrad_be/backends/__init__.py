"""`tinygrad_be.backends`, as torch.backends: flags torch code sets, and what is available."""

from tinygrad_be.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
