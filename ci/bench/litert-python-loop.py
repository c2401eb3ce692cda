"""The reference loop edgebench's litert p50 is compared with (BENCHMARKS.md): ai_edge_litert's Python
Interpreter (XNNPACK, the wheel's default delegate) on the same model and threads, timing invoke() alone.

usage: python litert-python-loop.py MODEL.tflite THREADS SECONDS
prints: p50_us n
"""
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter

path, threads, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
it = Interpreter(model_path=path, num_threads=threads)
it.allocate_tensors()
rng = np.random.default_rng(0)
for d in it.get_input_details():
    x = rng.uniform(-1, 1, d["shape"]).astype(d["dtype"])
    it.set_tensor(d["index"], x)
for _ in range(20):
    it.invoke()
samples = []
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    t = time.perf_counter_ns()
    it.invoke()
    samples.append((time.perf_counter_ns() - t) / 1000.0)
samples.sort()
print(f"{samples[len(samples) // 2]:.1f} {len(samples)}")
