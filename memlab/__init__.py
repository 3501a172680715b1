"""memlab: from memristor pulse measurements to predicted analog neural-network accuracy."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("memlab")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
