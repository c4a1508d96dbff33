"""`backends.mps`, as torch's: Apple's GPU backend is not available here."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
