// Second half of the TorchScript round trip: a C++ program (libtorch + fast_rnnt, no Python)
// loads the model scripted in Python, runs forward and backward, and must reproduce Python's loss
// and gradient. Usage: load_and_train OUT_DIR (written by make_scripted_model.py).
#include <fast_rnnt/fast_rnnt.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: load_and_train OUT_DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  torch::jit::Module model = torch::jit::load(dir + "/model.pt");
  torch::jit::Module data = torch::jit::load(dir + "/data.pt");
  auto input = [&](const char* name) { return data.attr(name).toTensor(); };
  const torch::Tensor loss = model.forward({input("enc"), input("dec"), input("symbols"), input("boundary")}).toTensor();
  loss.backward();
  const torch::Tensor grad = model.attr("am_proj").toModule().attr("weight").toTensor().grad();
  const bool loss_ok = torch::allclose(loss, input("loss"), /*rtol=*/1e-6, /*atol=*/1e-6);
  const bool grad_ok = grad.defined() && torch::allclose(grad, input("am_weight_grad"), 1e-5, 1e-6);
  std::cout << "C++ loss " << loss.item<double>() << ", Python loss " << input("loss").item<double>()
            << "; gradient " << (grad_ok ? "matches" : "DIFFERS") << "\n";
  return loss_ok && grad_ok ? 0 : 1;
}
