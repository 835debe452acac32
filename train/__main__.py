"""``python -m ganedit.train cyclegan ...`` — the entry point for ``torchrun``."""

from .cli import train_group

if __name__ == "__main__":
    train_group(prog_name="python -m ganedit.train")
