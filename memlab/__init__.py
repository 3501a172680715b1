"""memlab: from memristor pulse measurements to predicted analog neural-network accuracy.

The Python API (:mod:`memlab.api`), the same functions the CLI calls::

    import memlab
    ds = memlab.open_run("run.h5")               # xarray.Dataset, cycle x pulse, with units
    memlab.measure("protocol.toml", "run.h5")    # the simulated backend by default
    a = memlab.analyze("run.h5", "device.json")
    d = memlab.load_device("device.json")
    res = memlab.simulate("device.json", "digits", quick=True)

also ``memlab.characterize`` and ``memlab.export``; each has a docstring with an example.
Your own network on the device file (:mod:`memlab.simulation.bridge`)::

    cfg = memlab.analog_config("device.json", drift="measured")
    analog = memlab.convert_to_analog(my_net, cfg)
    res = memlab.evaluate_analog(analog, x_test, y_test, cfg, times_s=(1.0, 86400.0), digital=my_net)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("memlab")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"


_API = ("open_run", "measure", "analyze", "load_device", "simulate", "sweep", "characterize", "export")
# your own network on the device (memlab.simulation.bridge, loaded with torch and aihwkit on first use)
_BRIDGE = ("analog_config", "convert_to_analog", "hwat_fine_tune", "calibrate_input_ranges",
           "program_analog_weights", "drift_analog_weights", "freeze", "evaluate_analog")


def __getattr__(name: str):
    # loaded on first use: ``import memlab`` stays light (torch only with simulate)
    if name in _API:
        from memlab import api

        return getattr(api, name)
    if name in _BRIDGE:
        from memlab.simulation import bridge

        return getattr(bridge, name)
    raise AttributeError(f"module 'memlab' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API) + list(_BRIDGE))
