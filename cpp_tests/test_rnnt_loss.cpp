// The RNN-T losses through the C++ API only (no Python in this process): forward values and
// gradients on a tiny ragged batch against literals worked out independently (a float64 loop
// reference with a differentiable lattice recursion, python/tests/reference.py), and errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"

namespace {

std::vector<torch::Device> devices() {
  std::vector<torch::Device> out{torch::kCPU};
  if (torch::cuda::is_available()) out.emplace_back(torch::kCUDA);
  return out;
}

// B=2, S=2, T=3, C=3, blank 0; sequence 0 is (S_b, T_b) = (1, 2), sequence 1 uses everything.
struct TinyBatch {
  torch::Tensor lm, am, symbols, boundary;
  explicit TinyBatch(torch::Device device) {
    const auto f64 = torch::dtype(torch::kDouble).device(device);
    lm = torch::tensor({0.5, -0.2, 0.1, 0.3, 0.8, -0.6, -0.4, 0.2, 0.9,
                        0.0, 0.7, -0.3, 0.6, -0.5, 0.2, 0.1, 0.4, -0.8}, f64)
             .reshape({2, 3, 3});
    am = torch::tensor({0.2, 0.1, -0.4, -0.3, 0.6, 0.5, 0.9, -0.1, 0.0,
                        -0.2, 0.3, 0.8, 0.4, -0.7, 0.1, 0.0, 0.5, -0.5}, f64)
             .reshape({2, 3, 3});
    symbols = torch::tensor({1, 2, 2, 1}, torch::dtype(torch::kLong).device(device)).reshape({2, 2});
    boundary = torch::tensor({0, 0, 1, 2, 0, 0, 2, 3}, torch::dtype(torch::kLong).device(device))
                   .reshape({2, 4});
  }
};

struct Expected {
  const char* kind;  // simple, smoothed (lm_only_scale 0.2, am_only_scale 0.1), full
  const char* rnnt_type;
  std::vector<double> loss, lm_grad, am_grad;  // reduction "none", delay_penalty 0.25
};

const std::vector<Expected>& expected_cases() {
  static const std::vector<Expected> cases = {
    {"simple", "regular",
     {3.12089942778857, 4.45164140987361},
     {0.106388771114467, -0.552905371253915, 0.446516600139448, -1.08013742036227,
      0.8960633124223, 0.184074107939972, 0, 0, 0, 0.02720182241956, 0.603408980856433,
      -0.630610803275993, -0.103320030835442, -0.66259747601662, 0.765917506852061,
      -1.1118669762531, 0.895234437729632, 0.216632538523473},
     {-0.305140878295461, 0.070442101297974, 0.234698776997488, -0.668607770952344,
      0.272715839870411, 0.395891931081933, 0, 0, 0, -0.539792132355397, 0.519694642603157,
      0.0200974897522401, -0.231641896181248, 0.0630073519465941, 0.168634544234654,
      -0.416551156132341, 0.253343948019694, 0.163207208112647}},
    {"simple", "modified",
     {1.5762373832312, 2.62894874832802},
     {-0.0142543869838437, -0.4985959230212, 0.512850310005044, -0.189227681209487,
      0.154707722346184, 0.0345199588633029, 0, 0, 0, 0.0928991050464178, 0.559914057883887,
      -0.652813162930305, 0.233114579491775, -0.690079222301057, 0.456964642809282,
      -0.0799758064653136, 0.0719981806526573, 0.00797762581265631},
     {-0.222327249031252, 0.0198851735374376, 0.202442075493815, 0.0188451808379216,
      -0.363773374212453, 0.344928193374532, 0, 0, 0, 0.0395970183250874, 0.524184600659049,
      -0.563781618984136, -0.167547646268882, -0.015817336534055, 0.183364982802937,
      0.373988506016674, -0.566534247889507, 0.192545741872833}},
    {"simple", "constrained",
     {3.12089942778857, 4.87359746614698},
     {0.106388771114467, -0.552905371253915, 0.446516600139448, -1.08013742036227,
      0.8960633124223, 0.184074107939972, 0, 0, 0, 0.0480021471245904, 0.584599931725216,
      -0.632602078849806, -0.341364001195171, -0.570573806127224, 0.911937807322395,
      -0.789012389118393, 0.68708190941693, 0.101930479701463},
     {-0.305140878295461, 0.070442101297974, 0.234698776997488, -0.668607770952344,
      0.272715839870411, 0.395891931081933, 0, 0, 0, -0.604797895049999, 0.654428982752645,
      -0.0496310877026458, -0.185122841966187, -0.00418077203482171, 0.189303614001009,
      -0.292453506172787, 0.0508598242970988, 0.241593681875689}},
    {"smoothed", "regular",
     {3.02778376095184, 4.3994560110283},
     {0.0715887496935128, -0.504689806308557, 0.433101056615044, -0.999738399600205,
      0.820600825522491, 0.179137574077714, -0.0252372852784662, 0.00319641003939059,
      0.0220408752390756, -0.0103290337911775, 0.585306746615131, -0.574977712823954,
      -0.100502476427229, -0.592816020472667, 0.693318496899896, -1.05129797559409,
      0.831761201549393, 0.219536774044692},
     {-0.24764443945224, 0.0555244480648112, 0.192119991387429, -0.544586785001875,
      0.223238420534211, 0.321348364467664, 0, 0, 0, -0.44069932456686, 0.408222695013151,
      0.0324766295537087, -0.17529700002799, 0.0356857170504674, 0.139611282977522,
      -0.35460923081151, 0.228681220731418, 0.125928010080093}},
    {"smoothed", "modified",
     {1.60453468101657, 2.70691003552771},
     {0.02291279313345, -0.481948579176545, 0.459035786043095, -0.205025033236654,
      0.164213349111421, 0.0408116841252329, -0.00455935438011929, -0.00332771547232074,
      0.00788706985244003, 0.0863730202100522, 0.51754697021282, -0.603919990422873,
      0.204118330194491, -0.636211517580465, 0.432093187385974, -0.104393952583109,
      0.0876797190244704, 0.0167142335586386},
     {-0.150462383294969, -0.00967127041099102, 0.16013365370596, -0.0361579630179976,
      -0.229389449128056, 0.265547412146054, 0, 0, 0, 0.0212200221970879, 0.402628190800865,
      -0.423848212997953, -0.0942500589054663, -0.0375405771532894, 0.131790636058756,
      0.237334781334229, -0.382804841013167, 0.145470059678938}},
    {"smoothed", "constrained",
     {3.02778376095184, 4.84657620781559},
     {0.0724970977196179, -0.504353336965998, 0.43185623924638, -0.99938908247725,
      0.820906893345749, 0.178482189131501, -0.0246938641963054, 0.00404621625390245,
      0.0206476479424029, 0.0193081060395123, 0.56230918809069, -0.581617294130203,
      -0.328052468642476, -0.508940280579166, 0.836992749221642, -0.761118339579654,
      0.63691119025884, 0.124207149320814},
     {-0.24764443945224, 0.0555244480648112, 0.192119991387429, -0.544586785001875,
      0.223238420534211, 0.321348364467664, 0, 0, 0, -0.4885974024008, 0.521537680040901,
      -0.0329402776401012, -0.139500845896598, -0.0181144828452469, 0.157615328741845,
      -0.264550783392138, 0.0743524497995038, 0.190198333592634}},
    {"full", "regular",
     {3.12089942778857, 4.45164140987361},
     {0.106388771114467, -0.552905371253915, 0.446516600139448, -1.08013742036227,
      0.8960633124223, 0.184074107939972, 0, 0, 0, 0.02720182241956, 0.603408980856433,
      -0.630610803275993, -0.103320030835442, -0.66259747601662, 0.765917506852061,
      -1.1118669762531, 0.895234437729632, 0.216632538523473},
     {-0.305140878295461, 0.070442101297974, 0.234698776997488, -0.668607770952344,
      0.272715839870411, 0.395891931081933, 0, 0, 0, -0.539792132355397, 0.519694642603157,
      0.02009748975224, -0.231641896181248, 0.0630073519465941, 0.168634544234654,
      -0.416551156132341, 0.253343948019694, 0.163207208112647}},
    {"full", "modified",
     {1.5762373832312, 2.62894874832802},
     {-0.0142543869838437, -0.4985959230212, 0.512850310005044, -0.189227681209487,
      0.154707722346184, 0.0345199588633029, 0, 0, 0, 0.0928991050464178, 0.559914057883887,
      -0.652813162930305, 0.233114579491775, -0.690079222301057, 0.456964642809282,
      -0.0799758064653136, 0.0719981806526573, 0.00797762581265631},
     {-0.222327249031252, 0.0198851735374376, 0.202442075493815, 0.0188451808379216,
      -0.363773374212453, 0.344928193374532, 0, 0, 0, 0.0395970183250874, 0.524184600659049,
      -0.563781618984136, -0.167547646268882, -0.015817336534055, 0.183364982802937,
      0.373988506016674, -0.566534247889507, 0.192545741872833}},
    {"full", "constrained",
     {3.12089942778857, 4.87359746614698},
     {0.106388771114467, -0.552905371253915, 0.446516600139448, -1.08013742036227,
      0.8960633124223, 0.184074107939972, 0, 0, 0, 0.0480021471245904, 0.584599931725216,
      -0.632602078849806, -0.341364001195171, -0.570573806127224, 0.911937807322395,
      -0.789012389118393, 0.68708190941693, 0.101930479701463},
     {-0.305140878295461, 0.070442101297974, 0.234698776997488, -0.668607770952344,
      0.272715839870411, 0.395891931081933, 0, 0, 0, -0.604797895049999, 0.654428982752645,
      -0.0496310877026458, -0.185122841966187, -0.0041807720348217, 0.189303614001009,
      -0.292453506172787, 0.0508598242970988, 0.241593681875689}},
  };
  return cases;
}

void expect_near(const torch::Tensor& actual, const std::vector<double>& expected,
                 const std::string& what) {
  const auto a = actual.cpu().to(torch::kDouble).contiguous().reshape({-1});
  ASSERT_EQ(a.numel(), static_cast<int64_t>(expected.size())) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(a[i].item<double>(), expected[i], 1e-10) << what << " [" << i << "]";
  }
}

TEST(RnntLoss, ForwardAndBackwardMatchLiterals) {
  for (const auto& device : devices()) {
    for (const auto& c : expected_cases()) {
      const TinyBatch in(device);
      auto lm = in.lm.clone().requires_grad_();
      auto am = in.am.clone().requires_grad_();
      const std::string kind = c.kind;
      torch::Tensor loss;
      if (kind == "simple") {
        loss = fast_rnnt::rnnt_loss_simple(lm, am, in.symbols, 0, in.boundary, c.rnnt_type, 0.25,
                                           "none");
      } else if (kind == "smoothed") {
        loss = fast_rnnt::rnnt_loss_smoothed(lm, am, in.symbols, 0, 0.2, 0.1, in.boundary,
                                             c.rnnt_type, 0.25, "none");
      } else {
        // The full loss over the additive joiner: the backward runs through arc_logprobs.
        auto logits = lm.unsqueeze(1) + am.unsqueeze(2);  // (B, T, S+1, C)
        loss = fast_rnnt::rnnt_loss(logits, in.symbols, 0, in.boundary, c.rnnt_type, 0.25, "none");
      }
      const std::string what = kind + "/" + c.rnnt_type + " on " + device.str();
      expect_near(loss.detach(), c.loss, what + " loss");
      loss.sum().backward();
      expect_near(lm.grad(), c.lm_grad, what + " lm grad");
      expect_near(am.grad(), c.am_grad, what + " am grad");
    }
  }
}

TEST(RnntLoss, ReductionsAndWithGrad) {
  const TinyBatch in(torch::kCPU);
  const auto none = fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, in.boundary,
                                                "regular", 0.0, "none");
  const auto sum = fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, in.boundary,
                                               "regular", 0.0, "sum");
  const auto mean = fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, in.boundary);
  EXPECT_NEAR(sum.item<double>(), none.sum().item<double>(), 1e-12);
  EXPECT_NEAR(mean.item<double>(), none.mean().item<double>(), 1e-12);

  auto [loss, px_grad, py_grad] = fast_rnnt::rnnt_loss_simple_with_grad(
      in.lm, in.am, in.symbols, 0, in.boundary, "modified", 0.0, "sum");
  auto [px, py] = fast_rnnt::get_rnnt_logprobs(in.lm, in.am, in.symbols, 0, "modified", in.boundary);
  EXPECT_EQ(px_grad.sizes(), px.sizes());
  EXPECT_EQ(py_grad.sizes(), py.sizes());
  auto [scores, px_occ, py_occ] = fast_rnnt::mutual_information_recursion_with_grad(px, py, in.boundary);
  EXPECT_NEAR(loss.item<double>(), -scores.sum().item<double>(), 1e-12);
  EXPECT_TRUE(torch::allclose(px_grad, px_occ));
  EXPECT_TRUE(torch::allclose(py_grad, py_occ));

  auto [loss2, px_grad2, py_grad2] = fast_rnnt::rnnt_loss_smoothed_with_grad(
      in.lm, in.am, in.symbols, 0, 0.0, 0.0, in.boundary, "regular", 0.0, "none");
  EXPECT_TRUE(torch::allclose(loss2, none));

  // The joint log-probabilities of the additive joiner are those of the simple loss.
  auto [jx, jy] = fast_rnnt::get_rnnt_logprobs_joint(in.lm.unsqueeze(1) + in.am.unsqueeze(2),
                                                     in.symbols, 0, "constrained");
  auto [sx, sy] = fast_rnnt::get_rnnt_logprobs(in.lm, in.am, in.symbols, 0, "constrained");
  EXPECT_TRUE(torch::allclose(jx, sx));
  EXPECT_TRUE(torch::allclose(jy, sy));
  auto [mx, my] = fast_rnnt::get_rnnt_logprobs_smoothed(in.lm, in.am, in.symbols, 0);
  EXPECT_EQ(mx.sizes(), (std::vector<int64_t>{2, 2, 4}));
}

TEST(RnntLoss, ArcLogprobsByHand) {
  // One row x = (1, 2, 3): lse = log(e + e^2 + e^3).
  auto logits = torch::tensor({1.0, 2.0, 3.0}, torch::kDouble).reshape({1, 1, 1, 3}).requires_grad_();
  auto symbols = torch::tensor({2}, torch::kLong).reshape({1, 1, 1});
  auto [sym_lp, blank_lp] = fast_rnnt::arc_logprobs(logits, symbols, 0);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(sym_lp.item<double>(), 3.0 - lse, 1e-12);
  EXPECT_NEAR(blank_lp.item<double>(), 1.0 - lse, 1e-12);
  (sym_lp + 2.0 * blank_lp).sum().backward();
  auto g = logits.grad().reshape({-1});
  for (int c = 0; c < 3; ++c) {
    const double p = std::exp(1.0 + c - lse);
    EXPECT_NEAR(g[c].item<double>(), (c == 2 ? 1.0 : 0.0) + (c == 0 ? 2.0 : 0.0) - 3.0 * p, 1e-12);
  }
  // HAT: blank = logsigmoid(x0), symbol = x[v] - logsumexp(x[1:]) + logsigmoid(-x0).
  auto [hat_sym, hat_blank] = fast_rnnt::arc_logprobs(logits.detach(), symbols, 0, true);
  EXPECT_NEAR(hat_blank.item<double>(), -std::log1p(std::exp(-1.0)), 1e-12);
  EXPECT_NEAR(hat_sym.item<double>(),
              3.0 - std::log(std::exp(2.0) + std::exp(3.0)) - std::log1p(std::exp(1.0)), 1e-12);
}

TEST(RnntLoss, BadInputThrows) {
  const TinyBatch in(torch::kCPU);
  auto logits = in.lm.unsqueeze(1) + in.am.unsqueeze(2);
  EXPECT_THROW(fast_rnnt::rnnt_loss(logits, in.symbols, 0, std::nullopt, "pruned"), c10::Error);
  EXPECT_THROW(fast_rnnt::rnnt_loss(logits, in.symbols, 0, std::nullopt, "regular", 0.0, "avg"),
               c10::Error);
  EXPECT_THROW(fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 3), c10::Error);
  EXPECT_THROW(fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols + 2, 0), c10::Error);
  EXPECT_THROW(fast_rnnt::rnnt_loss_smoothed(in.lm, in.am.narrow(1, 0, 1), in.symbols, 0, 0.1,
                                             0.1, std::nullopt, "modified"),
               c10::Error);
  EXPECT_THROW(fast_rnnt::arc_logprobs(logits, in.symbols, 0), c10::Error);
  EXPECT_THROW(fast_rnnt::arc_logprobs(logits, in.symbols.unsqueeze(1).expand({2, 3, 2}), 1, true),
               c10::Error);
  try {
    fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, std::nullopt, "regular", 0.0, "avg");
    FAIL() << "expected c10::Error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("rnnt_loss_simple: expected reduction to be 'none', "
                                         "'mean' or 'sum', got 'avg'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
