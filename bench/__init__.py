"""The benchmark suite: `python -m bench` from the repository root (see bench/README.md).

Importing this package pins every maths library to one thread, before NumPy, torch or JAX start
their thread pools, in this process and in the server it starts: the service runs one thread per
worker process (GRADIENT_SERVICE_TORCH_THREADS=1), and an engine comparison is only fair when no
engine gets more cores than another. A variable already set in the environment is left alone.
"""

import os

ONE_THREAD = {
    "OMP_NUM_THREADS": "1",  # torch (OpenMP)
    "MKL_NUM_THREADS": "1",  # torch (MKL)
    "OPENBLAS_NUM_THREADS": "1",  # NumPy
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",  # JAX
}
for variable, value in ONE_THREAD.items():
    os.environ.setdefault(variable, value)
