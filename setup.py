"""Package discovery for the core distribution (metadata lives in pyproject.toml).

Every ``robopref.*`` subpackage is found automatically; the Hydra configs in the
top-level ``conf/`` folder ship as the package ``robopref.conf`` so that
``pkg://robopref.conf`` resolves in editable and regular installs alike; groups that
belong to a single stage ship from ``conf_stage/`` as ``robopref.conf_stage``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["robopref", "robopref.*"]) + ["robopref.conf", "robopref.conf_stage"],
    package_dir={"robopref.conf": "conf", "robopref.conf_stage": "conf_stage"},
)
