"""`tinygrad_be.utils`: as torch.utils, the data pipeline lives in `utils.data`."""
