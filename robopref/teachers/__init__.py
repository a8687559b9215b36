"""Scripted teachers (B-Pref) that label queries from a dataset's ground truth."""

from robopref.teachers.labelling import answer_queries, label_queries, query_returns
from robopref.teachers.returns import discounted_return, segment_returns
from robopref.teachers.scripted import TEACHER_PRESETS, ScriptedTeacher, TeacherAnswer, make_teacher

__all__ = [
    "ScriptedTeacher",
    "TEACHER_PRESETS",
    "TeacherAnswer",
    "answer_queries",
    "discounted_return",
    "label_queries",
    "make_teacher",
    "query_returns",
    "segment_returns",
]
