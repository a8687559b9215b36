"""Datasets in the robomimic HDF5 layout, segment references and samplers."""

from robopref.data.dataset import Dataset
from robopref.data.episode import Episode
from robopref.data.errors import DatasetError
from robopref.data.layout import make_env_args
from robopref.data.sampling import iter_windows, sample_pairs, sample_segments, whole_episodes
from robopref.data.segments import SegmentRef
from robopref.data.validate import validate_dataset
from robopref.data.writer import DatasetWriter

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetWriter",
    "Episode",
    "SegmentRef",
    "iter_windows",
    "make_env_args",
    "sample_pairs",
    "sample_segments",
    "validate_dataset",
    "whole_episodes",
]
