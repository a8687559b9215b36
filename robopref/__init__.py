"""robopref: robot learning from human preferences."""

__version__ = "0.1.0"
