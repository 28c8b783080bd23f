"""First half of the TorchScript round trip (ctest fixture): script a model that uses the losses,
run it in Python, and save the model plus its inputs and the results to check in C++.

    python make_scripted_model.py OUT_DIR
writes OUT_DIR/model.pt (the scripted model) and OUT_DIR/data.pt (a scripted module whose buffers
are the inputs, the loss and the gradient of one weight).
"""

import sys
from pathlib import Path

import torch
from torch import nn

import fast_rnnt


class Transducer(nn.Module):
    def __init__(self):
        super().__init__()
        self.am_proj = nn.Linear(8, 6)
        self.lm_proj = nn.Linear(8, 6)

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, symbols: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
        am, lm = self.am_proj(enc), self.lm_proj(dec)
        # The op itself (the wrapper's return type depends on return_grad, a Union in TorchScript).
        simple = torch.ops.fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="sum")
        logits = torch.tanh(am[:, :, None, :] + lm[:, None, :, :])
        full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, reduction="sum")
        return simple + full


class Data(nn.Module):
    def __init__(self, tensors):
        super().__init__()
        for name, t in tensors.items():
            self.register_buffer(name, t)


def main(out_dir: Path) -> None:
    torch.manual_seed(0)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = torch.jit.script(Transducer())
    enc, dec = torch.randn(2, 7, 8), torch.randn(2, 4, 8)
    symbols = torch.tensor([[1, 2, 3], [4, 5, 0]])
    boundary = torch.tensor([[0, 0, 3, 7], [0, 0, 2, 5]])
    loss = model(enc, dec, symbols, boundary)
    loss.backward()
    model.save(str(out_dir / "model.pt"))
    data = dict(enc=enc, dec=dec, symbols=symbols, boundary=boundary, loss=loss.detach(),
                am_weight_grad=model.am_proj.weight.grad.clone())
    torch.jit.script(Data(data)).save(str(out_dir / "data.pt"))
    print(f"loss {loss.item():.6f}; saved to {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
