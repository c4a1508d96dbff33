"""`backends.cudnn`, as torch's: the flags training scripts set (`cudnn.benchmark = True`,
`cudnn.deterministic = True`) are accepted and have no effect: the CPU ops here are deterministic
and have no algorithm to choose."""

benchmark = False
deterministic = False
enabled = True


def is_available() -> bool:
    return False
