"""`tinygrad_be.utils`: as torch.utils, the data pipeline lives in `utils.data`
(imported here, so `tinygrad_be.utils.data.DataLoader` works after `import tinygrad_be`)."""

from tinygrad_be.utils import data

__all__ = ["data"]
