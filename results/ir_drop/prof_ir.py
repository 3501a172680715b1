"""Profile of ir_fast.exact_effective_conductance alone on CUDA (results/ir_drop/h200_solver_profile.log).

    python3 results/ir_drop/prof_ir.py   # on a GPU machine, memlab installed
"""
import cProfile, pstats, time, torch
from memlab.simulation import ir_fast
from memlab.simulation.ir_reference import CrossbarWires
dev = "cuda"
g = (2e-3 + 1.2e-3 * torch.rand(16, 196, 250, dtype=torch.float64)).to(dev)
w = CrossbarWires(0.1)
ir_fast.exact_effective_conductance(g[:2, :20, :30], w); torch.cuda.synchronize()
calls = {"ns": 0, "fallback": 0}
orig_chol = torch.linalg.cholesky
def counting(*a, **k):
    calls["fallback"] += 1
    return orig_chol(*a, **k)
torch.linalg.cholesky = counting
for name, x in [("16x196x250", g), ("4x250x10", (2e-3 + 1.2e-3 * torch.rand(4, 250, 10, dtype=torch.float64)).to(dev))]:
    torch.cuda.synchronize(); t = time.perf_counter(); ir_fast.exact_effective_conductance(x, w); torch.cuda.synchronize()
    print(name, f"{time.perf_counter() - t:.3f} s", calls, flush=True)
pr = cProfile.Profile(); pr.enable()
ir_fast.exact_effective_conductance(g, w); torch.cuda.synchronize()
pr.disable(); pstats.Stats(pr).sort_stats("tottime").print_stats(10)
