"""Real-robot sessions on the learning side: record teleoperated or policy episodes through
a robot server, roll policies out at a fixed rate, write crash-safe datasets with videos.

Public API::

    from robopref.robot import EpisodeRecorder, recover_staged, ControlLoop, ChunkScheduler
    from robopref.robot import record_session, rollout_session, SessionSummary
"""

from robopref.robot.control import ChunkScheduler, RateLoop
from robopref.robot.recorder import EpisodeRecorder, read_staged, recover_staged
from robopref.robot.session import SessionSummary, record_session, rollout_session

__all__ = ["ChunkScheduler", "EpisodeRecorder", "RateLoop", "SessionSummary", "read_staged", "record_session",
           "recover_staged", "rollout_session"]
