"""A cerebellum-like circuit learning online under feedback control (seed 000).

Reference trajectory -> mossy fibres (lookahead samples) -> expanded granule layer -> linear
readout trained online with an LMS-like rule, driving a plant under feedback control.  The
task loss is an exact quadratic form (:class:`CerebellarTask`), and the mean and covariance of
online learning propagate exactly (:mod:`numerics.cerebellum.moments`).
"""

from numerics.cerebellum.granule import GranuleLayer, granule_layer
from numerics.cerebellum.loop import (
                                      Controller,
                                      LinearPlant,
                                      SampledLoop,
                                      default_controller,
                                      default_plant,
                                      pid_controller,
                                      sampled_loop,
)
from numerics.cerebellum.reference import (
                                      FourierReference,
                                      SampledReference,
                                      fourier_reference,
                                      sines_reference,
)
from numerics.cerebellum.task import CerebellarTask, TaskLossForm

__all__ = ["CerebellarTask", "TaskLossForm", "GranuleLayer", "granule_layer", "Controller",
           "LinearPlant", "SampledLoop", "default_controller", "default_plant", "pid_controller",
           "sampled_loop", "FourierReference", "SampledReference", "fourier_reference",
           "sines_reference"]
