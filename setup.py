"""Package discovery for the core distribution (metadata lives in pyproject.toml).

Every ``robopref.*`` subpackage is found automatically; the Hydra configs in the
top-level ``conf/`` folder ship as the package ``robopref.conf`` so that
``pkg://robopref.conf`` resolves in editable and regular installs alike.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["robopref", "robopref.*"]) + ["robopref.conf"],
    package_dir={"robopref.conf": "conf"},
)
