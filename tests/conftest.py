import os

# one BLAS thread: the suite's matrices are small, and threads fighting over two cores made
# BLAS-heavy tests 10-40x slower on a loaded machine (set before numpy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

matplotlib.use("Agg")
os.environ.setdefault("LEARNDYN_QUIET", "1")

settings.register_profile(
    "learndyn", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("learndyn")
