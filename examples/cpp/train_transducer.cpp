// Trains a tiny transducer in C++ with fast_rnnt's pruned RNN-T pipeline; no Python involved.
//
// Task: each utterance is a label sequence over tokens 1..V-1 (0 is blank); every label lasts
// 1-3 frames of noisy one-hot features, with a blank (silence) frame here and there; two
// consecutive labels always differ. The model must learn the alignment.
// Model: a linear encoder over the features, an embedding+GRU predictor over the labels (blank as
// start symbol), and an additive-then-nonlinear joiner: Linear(tanh(enc[t] + pred[s])).
// Step: rnnt_loss_smoothed (additive joiner, with occupancies) -> get_rnnt_prune_ranges ->
// do_rnnt_pruning -> joiner on (B, T, s_range, H) -> rnnt_loss_pruned; loss = 0.5 simple + pruned.
//
// Prints the loss every 25 steps and greedy-decoding label accuracy (1 - edit distance / labels)
// before and after. Exit code 0 iff the final loss is below 0.35x the first one and the label
// accuracy is >= 80% (--steps N and --quiet change the run; used as a ctest test).
#include <fast_rnnt/fast_rnnt.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int64_t kVocab = 8;  // blank + 7 tokens
constexpr int64_t kHidden = 48;
constexpr int64_t kBlank = 0;

struct Batch {
  torch::Tensor features;  // (B, T, V)
  torch::Tensor symbols;   // (B, S) int64, padded with blank
  torch::Tensor boundary;  // (B, 4) int64 (0, 0, S_b, T_b)
  std::vector<std::vector<int64_t>> labels;
};

Batch make_batch(int64_t B, torch::Generator& gen) {
  std::vector<std::vector<int64_t>> labels(B), frames(B);
  int64_t S = 0, T = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = torch::randint(3, 7, {1}, gen).item<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      int64_t token = 0;  // a label differs from the one before: repeats would be ambiguous
      do {
        token = torch::randint(1, kVocab, {1}, gen).item<int64_t>();
      } while (!labels[b].empty() && token == labels[b].back());
      labels[b].push_back(token);
      if (torch::rand({1}, gen).item<double>() < 0.3) frames[b].push_back(kBlank);
      const int64_t duration = torch::randint(1, 4, {1}, gen).item<int64_t>();
      for (int64_t d = 0; d < duration; ++d) frames[b].push_back(token);
    }
    frames[b].push_back(kBlank);
    S = std::max<int64_t>(S, n);
    T = std::max<int64_t>(T, frames[b].size());
  }
  Batch batch;
  batch.features = 0.3 * torch::randn({B, T, kVocab}, gen);
  batch.symbols = torch::zeros({B, S}, torch::kLong);
  batch.boundary = torch::zeros({B, 4}, torch::kLong);
  for (int64_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < frames[b].size(); ++t) batch.features[b][t][frames[b][t]] += 1.0;
    for (size_t s = 0; s < labels[b].size(); ++s) batch.symbols[b][s] = labels[b][s];
    batch.boundary[b][2] = static_cast<int64_t>(labels[b].size());
    batch.boundary[b][3] = static_cast<int64_t>(frames[b].size());
  }
  batch.labels = std::move(labels);
  return batch;
}

struct TransducerImpl : torch::nn::Module {
  torch::nn::Linear encoder{nullptr}, enc_proj{nullptr}, pred_proj{nullptr}, joiner_out{nullptr};
  torch::nn::Linear simple_am{nullptr}, simple_lm{nullptr};
  torch::nn::Embedding embedding{nullptr};
  torch::nn::GRU gru{nullptr};

  TransducerImpl() {
    encoder = register_module("encoder", torch::nn::Linear(kVocab, kHidden));
    embedding = register_module("embedding", torch::nn::Embedding(kVocab, kHidden));
    gru = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(kHidden, kHidden).batch_first(true)));
    enc_proj = register_module("enc_proj", torch::nn::Linear(kHidden, kHidden));
    pred_proj = register_module("pred_proj", torch::nn::Linear(kHidden, kHidden));
    joiner_out = register_module("joiner_out", torch::nn::Linear(kHidden, kVocab));
    simple_am = register_module("simple_am", torch::nn::Linear(kHidden, kVocab));
    simple_lm = register_module("simple_lm", torch::nn::Linear(kHidden, kVocab));
  }

  torch::Tensor encode(const torch::Tensor& features) { return torch::tanh(encoder(features)); }

  // (B, S+1, H): the predictor's state before each label, blank as start symbol.
  torch::Tensor predict(const torch::Tensor& symbols) {
    auto start = torch::full({symbols.size(0), 1}, kBlank, torch::kLong);
    auto out = gru(embedding(torch::cat({start, symbols}, 1)));
    return std::get<0>(out);
  }

  torch::Tensor join(const torch::Tensor& enc, const torch::Tensor& pred) {
    return joiner_out(torch::tanh(enc + pred));
  }
};
TORCH_MODULE(Transducer);

torch::Tensor train_step(Transducer& model, const Batch& batch) {
  auto enc = model->encode(batch.features);  // (B, T, H)
  auto pred = model->predict(batch.symbols);  // (B, S+1, H)
  auto [simple_loss, px_grad, py_grad] = fast_rnnt::rnnt_loss_smoothed_with_grad(
      model->simple_lm(pred), model->simple_am(enc), batch.symbols, kBlank,
      /*lm_only_scale=*/0.25, /*am_only_scale=*/0.0, batch.boundary);
  const int64_t s_range = std::min<int64_t>(3, batch.symbols.size(1) + 1);
  auto ranges = fast_rnnt::get_rnnt_prune_ranges(px_grad, py_grad, batch.boundary, s_range);
  auto [enc_pruned, pred_pruned] =
      fast_rnnt::do_rnnt_pruning(model->enc_proj(enc), model->pred_proj(pred), ranges);
  auto logits = model->join(enc_pruned, pred_pruned);  // (B, T, s_range, V)
  auto pruned_loss = fast_rnnt::rnnt_loss_pruned(logits, batch.symbols, ranges, kBlank, batch.boundary);
  return 0.5 * simple_loss + pruned_loss;
}

// Levenshtein distance between two label sequences.
int64_t edit_distance(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t substitute = diagonal + (a[i - 1] != b[j - 1]);
      diagonal = row[j];
      row[j] = std::min({substitute, row[j] + 1, row[j - 1] + 1});
    }
  }
  return row[b.size()];
}

// Greedy decoding, at most 3 symbols per frame; returns the label accuracy
// 1 - (edit distance / reference length), summed over the batch, floored at 0.
double greedy_accuracy(Transducer& model, const Batch& batch) {
  torch::NoGradGuard no_grad;
  auto enc = model->enc_proj(model->encode(batch.features));
  int64_t errors = 0, total = 0;
  for (int64_t b = 0; b < batch.features.size(0); ++b) {
    std::vector<int64_t> hyp;
    auto token = torch::full({1, 1}, kBlank, torch::kLong);
    auto [out, state] = model->gru(model->embedding(token));
    const int64_t T_b = batch.boundary[b][3].item<int64_t>();
    for (int64_t t = 0; t < T_b; ++t) {
      for (int emitted = 0; emitted < 3; ++emitted) {
        auto logits = model->join(enc[b][t], model->pred_proj(out[0][0]));
        const int64_t best = logits.argmax().item<int64_t>();
        if (best == kBlank) break;
        hyp.push_back(best);
        token.fill_(best);
        std::tie(out, state) = model->gru(model->embedding(token), state);
      }
    }
    errors += edit_distance(hyp, batch.labels[b]);
    total += static_cast<int64_t>(batch.labels[b].size());
  }
  return std::max(0.0, 1.0 - static_cast<double>(errors) / static_cast<double>(total));
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 400;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = std::stoll(argv[++i]);
    if (std::strcmp(argv[i], "--quiet") == 0) quiet = true;
  }
  torch::manual_seed(0);
  torch::set_num_threads(1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(/*seed=*/1234);
  Transducer model;
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  const Batch test = make_batch(32, gen);
  const double accuracy_before = greedy_accuracy(model, test);

  double first = 0, last = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const Batch batch = make_batch(16, gen);
    optimizer.zero_grad();
    auto loss = train_step(model, batch);
    loss.backward();
    optimizer.step();
    const double value = loss.item<double>();
    if (step == 0) first = value;
    last = step < 10 ? value : 0.9 * last + 0.1 * value;  // smoothed
    if (!quiet && (step % 25 == 0 || step == steps - 1)) {
      std::printf("step %4lld  loss %.4f\n", static_cast<long long>(step), value);
    }
  }
  const double accuracy_after = greedy_accuracy(model, test);
  std::printf("loss: first %.4f, final (smoothed) %.4f\n", first, last);
  std::printf("greedy decoding accuracy: %.1f%% before, %.1f%% after training\n",
              100 * accuracy_before, 100 * accuracy_after);
  const bool ok = last < 0.35 * first && accuracy_after >= 0.8;
  std::printf("%s\n", ok ? "OK" : "FAILED: the loss did not fall enough or decoding is poor");
  return ok ? 0 : 1;
}
