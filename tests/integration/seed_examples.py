"""The BetaPool seed's documented examples, quoted unchanged from its
repository (github.com/WhiteMetagross/BetaPool, MIT licence, commit 1d6b4ef):
every ```python block of README.md, betapool/README.md and Usage.md, in
order, as (file, line, code, why not run or None). They are the seed's text,
not ours: test_seed_api.py runs them against this package to show that a
program written for the seed runs on it. The names an example leaves to its
reader (my_task, task, task_function, args, arg1, arg2) and the imports of
earlier blocks come from test_seed_api.PRELUDE."""

EXAMPLES = [
    ('README.md', 41, """\
from betapool import AdaptiveThreadPoolExecutor

# Drop-in replacement for ThreadPoolExecutor.
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    futures = [executor.submit(my_task, arg) for arg in args]
    results = [f.result() for f in futures]

    # Monitor adaptive behavior.
    metrics = executor.get_metrics()
    print(f"Current threads: {metrics['current_threads']}")
    print(f"Blocking ratio: {metrics['avg_blocking_ratio']:.2f}")
""",
     None),
    ('README.md', 83, """\
from betapool import AdaptiveThreadPoolExecutor, ControllerConfig

config = ControllerConfig(
    monitor_interval_sec=0.5,    # Metric check interval.
    beta_high_threshold=0.7,     # Scale up threshold.
    beta_low_threshold=0.3,      # GIL danger zone.
    scale_up_step=2,             # Threads to add.
    scale_down_step=1,           # Threads to remove.
)

with AdaptiveThreadPoolExecutor(
    min_workers=4,
    max_workers=64,
    config=config
) as executor:
    future = executor.submit(task_function, arg1, arg2)
    result = future.result()
""",
     None),
    ('betapool/README.md', 55, """\
from betapool import AdaptiveThreadPoolExecutor

# Drop-in replacement for ThreadPoolExecutor.
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    futures = [executor.submit(my_task, arg) for arg in args]
    results = [f.result() for f in futures]
""",
     None),
    ('betapool/README.md', 66, """\
from betapool import AdaptiveThreadPoolExecutor, ControllerConfig

config = ControllerConfig(
    monitor_interval_sec=0.5,    # How often to check metrics.
    beta_high_threshold=0.7,     # Scale up when blocking ratio > 0.7.
    beta_low_threshold=0.3,      # GIL danger zone threshold.
    scale_up_step=2,             # Add 2 threads when scaling up.
    scale_down_step=1,           # Remove 1 thread when scaling down.
    warmup_task_count=10,        # Wait for 10 tasks before scaling.
)

with AdaptiveThreadPoolExecutor(
    min_workers=4,
    max_workers=64,
    config=config
) as executor:
    # Your workload here.
    pass
""",
     None),
    ('betapool/README.md', 89, """\
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    futures = [executor.submit(task, arg) for arg in args]
    
    metrics = executor.get_metrics()
    print(f"Current threads: {metrics['current_threads']}")
    print(f"Blocking ratio: {metrics['avg_blocking_ratio']:.2f}")
    print(f"Throughput: {metrics['throughput']:.1f} tasks/sec")
""",
     None),
    ('betapool/README.md', 129, """\
AdaptiveThreadPoolExecutor(
    min_workers: int = 4,
    max_workers: int = 64,
    config: Optional[ControllerConfig] = None,
    enable_logging: bool = False
)
""",
     'a signature in the API reference, not a program'),
    ('betapool/README.md', 149, """\
ControllerConfig(
    monitor_interval_sec: float = 0.5,
    beta_high_threshold: float = 0.7,
    beta_low_threshold: float = 0.3,
    scale_up_step: int = 2,
    scale_down_step: int = 1,
    cpu_upper_threshold: float = 85.0,
    cpu_lower_threshold: float = 50.0,
    stabilization_window_sec: float = 2.0,
    warmup_task_count: int = 10,
)
""",
     'a signature in the API reference, not a program'),
    ('betapool/README.md', 165, """\
TaskMetrics(
    task_id: str,
    wall_time: float,
    cpu_time: float,
    blocking_ratio: float,
    timestamp: float,
    success: bool = True,
    error_message: Optional[str] = None,
)
""",
     'a signature in the API reference, not a program'),
    ('betapool/README.md', 181, """\
from betapool import WorkloadGenerator

# I/O-bound task (releases GIL during sleep).
io_task = WorkloadGenerator.io_task(duration_ms=50.0)

# CPU-bound task (holds GIL).
cpu_task = WorkloadGenerator.cpu_task_python(iterations=100000)

# Mixed workload.
mixed_task = WorkloadGenerator.mixed_task(
    io_duration_ms=50.0,
    cpu_iterations=10000
)
""",
     None),
    ('Usage.md', 43, """\
import betapool
print(betapool.__version__)  # Should print "1.0.0".
""",
     None),
    ('Usage.md', 52, """\
from betapool import AdaptiveThreadPoolExecutor

def process_item(item):
    # Your processing logic here.
    return item * 2

# Use as a context manager (recommended).
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32) as executor:
    future = executor.submit(process_item, 42)
    result = future.result()
    print(f"Result: {result}")  # Output: Result: 84.
""",
     None),
    ('Usage.md', 68, """\
from betapool import AdaptiveThreadPoolExecutor

def process_data(x):
    import time
    time.sleep(0.01)  # Simulate I/O.
    return x ** 2

data = list(range(100))

with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32) as executor:
    results = list(executor.map(process_data, data))
    print(f"Processed {len(results)} items.")
""",
     None),
    ('Usage.md', 85, '''\
from betapool import AdaptiveThreadPoolExecutor
import time
import math

def io_task():
    """Simulates an I/O-bound operation."""
    time.sleep(0.05)
    return "io_done"

def cpu_task():
    """Simulates a CPU-bound operation."""
    result = 0.0
    for i in range(100000):
        result += math.sin(i)
    return result

with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    futures = []
    
    for i in range(50):
        if i % 2 == 0:
            futures.append(executor.submit(io_task))
        else:
            futures.append(executor.submit(cpu_task))
    
    results = [f.result() for f in futures]
    
    metrics = executor.get_metrics()
    print(f"Blocking ratio: {metrics['avg_blocking_ratio']:.2f}")
''',
     None),
    ('Usage.md', 121, """\
from betapool import AdaptiveThreadPoolExecutor, ControllerConfig

config = ControllerConfig(
    # How often the controller evaluates metrics (seconds).
    monitor_interval_sec=0.5,
    
    # Blocking ratio threshold for scaling up (I/O-bound detection).
    # Values above this indicate threads are waiting on I/O.
    beta_high_threshold=0.7,
    
    # Blocking ratio threshold for scaling down (CPU-bound detection).
    # Values below this indicate threads are CPU-bound, triggering GIL Safety Veto.
    beta_low_threshold=0.3,
    
    # Number of threads to add when scaling up.
    scale_up_step=2,
    
    # Number of threads to remove when scaling down.
    scale_down_step=1,
    
    # CPU utilization threshold to prevent scaling up.
    cpu_upper_threshold=85.0,
    
    # CPU utilization threshold that may trigger scaling down.
    cpu_lower_threshold=50.0,
    
    # Minimum time between scaling decisions (seconds).
    stabilization_window_sec=2.0,
    
    # Minimum tasks to complete before making scaling decisions.
    warmup_task_count=10,
)

with AdaptiveThreadPoolExecutor(
    min_workers=4,
    max_workers=64,
    config=config
) as executor:
    pass
""",
     None),
    ('Usage.md', 167, """\
io_heavy_config = ControllerConfig(
    beta_high_threshold=0.8,   # More aggressive scaling for high I/O.
    beta_low_threshold=0.4,
    scale_up_step=4,           # Scale up faster.
    scale_down_step=1,
)
""",
     None),
    ('Usage.md', 178, """\
cpu_heavy_config = ControllerConfig(
    beta_high_threshold=0.6,   # More conservative.
    beta_low_threshold=0.2,
    scale_up_step=1,
    scale_down_step=2,         # Scale down faster when CPU-bound.
)
""",
     None),
    ('Usage.md', 189, """\
latency_sensitive_config = ControllerConfig(
    monitor_interval_sec=0.2,          # More frequent checks.
    stabilization_window_sec=1.0,      # Faster response.
    warmup_task_count=5,               # Shorter warmup.
)
""",
     None),
    ('Usage.md', 201, """\
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    futures = [executor.submit(task, arg) for arg in args]
    
    metrics = executor.get_metrics()
    
    print(f"Current threads: {metrics['current_threads']}")
    print(f"Min workers: {metrics['min_workers']}")
    print(f"Max workers: {metrics['max_workers']}")
    print(f"Total tasks: {metrics['total_tasks']}")
    print(f"Avg blocking ratio: {metrics['avg_blocking_ratio']:.3f}")
    print(f"Throughput: {metrics['throughput']:.1f} tasks/sec")
    print(f"P50 latency: {metrics['p50_latency']*1000:.1f} ms")
    print(f"P99 latency: {metrics['p99_latency']*1000:.1f} ms")
    print(f"Scale up count: {metrics['scale_up_count']}")
    print(f"Scale down count: {metrics['scale_down_count']}")
""",
     None),
    ('Usage.md', 221, """\
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    for _ in range(100):
        executor.submit(task)
    
    history = executor.get_decision_history()
    
    for decision in history:
        print(f"Time: {decision['timestamp']:.2f}")
        print(f"  Threads: {decision['threads_before']} -> {decision['threads_after']}")
        print(f"  Blocking ratio: {decision['blocking_ratio']:.3f}")
        print(f"  CPU: {decision['cpu_percent']:.1f}%")
        print(f"  Decision: {decision['decision']}")
""",
     None),
    ('Usage.md', 238, """\
with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=64) as executor:
    futures = [executor.submit(task, arg) for arg in args]
    for f in futures:
        f.result()
    
    log = executor.get_experiment_log()
    
    import csv
    with open("experiment_log.csv", "w", newline="") as f:
        if log:
            writer = csv.DictWriter(f, fieldnames=log[0].keys())
            writer.writeheader()
            writer.writerows(log)
""",
     None),
    ('Usage.md', 258, """\
from betapool import WorkloadGenerator

# Pure I/O task (releases GIL during sleep).
io_task = WorkloadGenerator.io_task(duration_ms=50.0)

# Pure CPU task (holds GIL).
cpu_task = WorkloadGenerator.cpu_task_python(iterations=100000)

# NumPy CPU task (releases GIL during computation).
numpy_task = WorkloadGenerator.cpu_task_numpy(matrix_size=100)

# Mixed I/O and CPU task.
mixed_task = WorkloadGenerator.mixed_task(
    io_duration_ms=50.0,
    cpu_iterations=10000
)

# Fibonacci task (extreme GIL holding).
fib_task = WorkloadGenerator.fibonacci_task(n=30)

# Variable latency task.
var_task = WorkloadGenerator.variable_latency_task(
    min_ms=10.0,
    max_ms=100.0,
    cpu_fraction=0.2
)
""",
     None),
    ('Usage.md', 289, """\
from betapool import WorkloadGenerator

rag_task = WorkloadGenerator.rag_pipeline_task(
    network_latency_ms=10.0,      # Initial request receive.
    vector_db_latency_ms=200.0,   # Vector database query.
    llm_latency_ms=500.0,         # LLM API call.
    tokenization_iterations=10000, # CPU work for tokenization.
    reranking_iterations=20000,    # CPU work for reranking.
)

with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32) as executor:
    futures = [executor.submit(rag_task) for _ in range(10)]
    results = [f.result() for f in futures]
    
    for result in results:
        print(f"Stages: {result['stages']}")
""",
     None),
    ('Usage.md', 310, """\
from betapool import (
    AdaptiveThreadPoolExecutor,
    PoissonArrivalGenerator,
    BurstArrivalGenerator,
    WorkloadGenerator,
)

# Poisson arrivals (steady stream).
poisson = PoissonArrivalGenerator(rate_per_second=50.0)

# Bursty arrivals.
bursty = BurstArrivalGenerator(
    burst_rate_per_second=100.0,
    quiet_rate_per_second=10.0,
    burst_duration_sec=5.0,
    quiet_duration_sec=10.0,
)

task = WorkloadGenerator.io_task(duration_ms=20.0)

with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32) as executor:
    import time
    end_time = time.time() + 30.0
    
    while time.time() < end_time:
        poisson.wait_for_next_arrival()
        executor.submit(task)
""",
     'submits for 30 s by design'),
    ('Usage.md', 344, """\
from betapool import AdaptiveThreadPoolExecutor, StaticThreadPoolExecutor
import time

def benchmark(executor_class, **kwargs):
    start = time.time()
    
    with executor_class(**kwargs) as executor:
        futures = [executor.submit(task, arg) for arg in args]
        results = [f.result() for f in futures]
        metrics = executor.get_metrics()
    
    elapsed = time.time() - start
    return elapsed, metrics

adaptive_time, adaptive_metrics = benchmark(
    AdaptiveThreadPoolExecutor,
    min_workers=4,
    max_workers=64
)

static_time, static_metrics = benchmark(
    StaticThreadPoolExecutor,
    workers=32
)

print(f"Adaptive: {adaptive_time:.2f}s, throughput={adaptive_metrics['throughput']:.1f}")
print(f"Static: {static_time:.2f}s, throughput={static_metrics['throughput']:.1f}")
""",
     None),
    ('Usage.md', 376, """\
from betapool import AdaptiveThreadPoolExecutor

executor = AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32)

try:
    futures = [executor.submit(task, arg) for arg in args]
    results = [f.result() for f in futures]
finally:
    executor.shutdown(wait=True)  # Wait for pending tasks.
""",
     None),
    ('Usage.md', 390, """\
from flask import Flask, request, jsonify
from betapool import AdaptiveThreadPoolExecutor

app = Flask(__name__)
executor = AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32)

def heavy_task(data):
    return {"processed": data}

@app.route("/process", methods=["POST"])
def process():
    data = request.json
    future = executor.submit(heavy_task, data)
    result = future.result(timeout=30.0)
    return jsonify(result)

@app.route("/metrics")
def metrics():
    return jsonify(executor.get_metrics())

@app.teardown_appcontext
def shutdown_executor(exception=None):
    executor.shutdown(wait=False)
""",
     'needs Flask'),
    ('Usage.md', 420, """\
import os

# min_workers: Usually equal to CPU cores for compute tasks.
min_workers = os.cpu_count() or 4

# max_workers: Depends on workload type.
# I/O-heavy: Can go higher (50-200).
# CPU-heavy: Keep close to core count.
max_workers = min_workers * 4

executor = AdaptiveThreadPoolExecutor(
    min_workers=min_workers,
    max_workers=max_workers
)
""",
     None),
    ('Usage.md', 439, """\
config = ControllerConfig(
    warmup_task_count=20,  # Wait for 20 tasks before scaling.
)
""",
     None),
    ('Usage.md', 447, """\
import logging

logging.basicConfig(level=logging.DEBUG)

executor = AdaptiveThreadPoolExecutor(
    min_workers=4,
    max_workers=32,
    enable_logging=True
)
""",
     None),
    ('Usage.md', 461, """\
from concurrent.futures import Future

with AdaptiveThreadPoolExecutor(min_workers=4, max_workers=32) as executor:
    futures = [executor.submit(task, arg) for arg in args]
    
    for future in futures:
        try:
            result = future.result(timeout=30.0)
        except TimeoutError:
            print("Task timed out.")
        except Exception as e:
            print(f"Task failed: {e}")
""",
     None),
    ('Usage.md', 482, """\
executor = AdaptiveThreadPoolExecutor(
    min_workers=2,
    max_workers=16  # Reduced from default.
)
""",
     None),
    ('Usage.md', 493, """\
config = ControllerConfig(
    monitor_interval_sec=0.2,      # More frequent checks.
    stabilization_window_sec=0.5,  # Shorter stabilization.
    warmup_task_count=5,           # Shorter warmup.
)
""",
     None),
    ('Usage.md', 505, """\
config = ControllerConfig(
    stabilization_window_sec=5.0,  # Longer stabilization.
    scale_up_step=1,               # Smaller steps.
    scale_down_step=1,
)
""",
     None),
]
