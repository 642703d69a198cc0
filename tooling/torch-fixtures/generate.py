"""Golden fixtures for the optimizers that PyTorch has, from real torch.optim in float64.

Run from the repository root with the system Python that has PyTorch (1.13 on the build machine):

    /usr/bin/python3 tooling/torch-fixtures/generate.py

It writes packages/adaptive/src/fixtures/rprop.json and packages/sgd/src/fixtures/asgd.json. Each
case holds the options as optimkit spells them, the initial values and the gradients of every
step (random, rounded to float32 so that the float32 optimizer under test sees the same inputs),
and the float64 parameters torch computes after each step, plus its final state.
"""

import json
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # ASGD's eta and mu tensors follow the default dtype

SHAPES = [[], [5], [3, 4], [2, 3, 2]]
STEPS = 40
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def inputs(seed, zero_every=0):
    rng = np.random.RandomState(seed)
    initial = [f32(rng.uniform(-2, 2, size=s)) for s in SHAPES]
    grads = []
    for step in range(STEPS):
        row = []
        for i, s in enumerate(SHAPES):
            g = f32(rng.uniform(-1, 1, size=s) * (0.5 + i) + 0.1 * (i - 1))
            # Some exact zeros: Rprop's "no sign information" branch.
            if zero_every and step % zero_every == zero_every - 1 and i in (1, 3):
                g = np.where(np.arange(g.size).reshape(g.shape) % 2 == 0, 0.0, g)
            row.append(g)
        grads.append(row)
    return initial, grads


def run(make, initial, grads, state_keys):
    params = [torch.tensor(p, dtype=torch.float64) for p in initial]
    for p in params:
        p.requires_grad_(True)
    optimizer = make(params)
    trajectory = []
    for row in grads:
        for p, g in zip(params, row):
            p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        trajectory.append([p.detach().numpy().ravel().tolist() for p in params])
    state = [
        {key: torch.as_tensor(optimizer.state[p][key]).detach().numpy().ravel().tolist() for key in state_keys}
        for p in params
    ]
    return trajectory, state


def small_first(params, small, rest):
    """Param groups: rank <= 1 variables get `small`, the others `rest` (optimkit's paramGroups)."""
    return [
        {"params": [p for p in params if p.dim() <= 1], **small},
        {"params": [p for p in params if p.dim() > 1], **rest},
    ]


def case(title, seed, options, make, state_keys, zero_every=0, group=None):
    initial, grads = inputs(seed, zero_every)
    trajectory, state = run(make, initial, grads, state_keys)
    return {
        "title": title,
        "options": options,
        "smallGroup": group,
        "shapes": SHAPES,
        "initial": [p.ravel().tolist() for p in initial],
        "grads": [[g.ravel().tolist() for g in row] for row in grads],
        "params": trajectory,
        "state": state,
    }


def rprop_cases():
    R = torch.optim.Rprop
    keys = ["prev", "step_size"]
    return [
        case("defaults", 1, {}, lambda ps: R(ps), keys, zero_every=5),
        case(
            "etas, step sizes and learning rate",
            2,
            {"learningRate": 0.05, "etaMinus": 0.3, "etaPlus": 1.5, "stepSizeMin": 0.01, "stepSizeMax": 0.2},
            lambda ps: R(ps, lr=0.05, etas=(0.3, 1.5), step_sizes=(0.01, 0.2)),
            keys,
            zero_every=4,
        ),
        case(
            "param groups",
            3,
            {"learningRate": 0.02, "etaPlus": 1.3},
            lambda ps: R(
                small_first(ps, {"lr": 0.1, "etas": (0.6, 1.1), "step_sizes": (1e-3, 1.0)}, {"lr": 0.02, "etas": (0.5, 1.3)})
            ),
            keys,
            group={"learningRate": 0.1, "etaMinus": 0.6, "etaPlus": 1.1, "stepSizeMin": 1e-3, "stepSizeMax": 1.0},
        ),
    ]


def asgd_cases():
    A = torch.optim.ASGD
    keys = ["ax", "eta", "mu"]
    return [
        case("defaults (t0 1e6: ax follows the parameter)", 11, {}, lambda ps: A(ps), keys),
        case(
            "averaging from step 6, large lambd, weight decay",
            12,
            {"learningRate": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 5, "weightDecay": 0.1},
            lambda ps: A(ps, lr=0.05, lambd=0.01, alpha=0.6, t0=5, weight_decay=0.1),
            keys,
        ),
        case(
            "param groups, averaging at once",
            13,
            {"learningRate": 0.03, "lambd": 0.001, "t0": 0},
            lambda ps: A(
                small_first(
                    ps,
                    {"lr": 0.1, "lambd": 0.05, "alpha": 1.0, "t0": 10, "weight_decay": 0.01},
                    {"lr": 0.03, "lambd": 0.001, "t0": 0},
                )
            ),
            keys,
            group={"learningRate": 0.1, "lambd": 0.05, "alpha": 1.0, "t0": 10, "weightDecay": 0.01},
        ),
    ]


def write(path, cases):
    os.makedirs(os.path.dirname(os.path.join(ROOT, path)), exist_ok=True)
    with open(os.path.join(ROOT, path), "w") as out:
        json.dump({"torch": torch.__version__, "steps": STEPS, "cases": cases}, out, separators=(",", ":"))
        out.write("\n")


if __name__ == "__main__":
    write("packages/adaptive/src/fixtures/rprop.json", rprop_cases())
    write("packages/sgd/src/fixtures/asgd.json", asgd_cases())
