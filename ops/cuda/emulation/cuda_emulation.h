#pragma once
// CUDA's device-side vocabulary for host C++, so that a kernels header (ops/cuda/<op>_kernels.cuh)
// compiles with g++ and its __global__ functions run on the CPU with the grid emulated exactly.
// Test builds only: the library never includes this (ops/cuda/device_api.cuh picks it when
// __CUDACC__ is not defined).
//
// Execution model (emulate_grid below):
// - every thread of a block is a real std::thread; the threads of a block meet at a std::barrier
//   in __syncthreads(), so a missing barrier is a real race and ordering bugs show;
// - blocks run one after another, on the same blockDim.x * blockDim.y * blockDim.z threads;
// - a thread that returns from the kernel leaves the block's barrier (arrive_and_drop), as exited
//   threads do on sm_70+; all threads must call __syncthreads() from the same statement, checked;
// - warp primitives (__shfl_*_sync, __any_sync, __all_sync, __ballot_sync, __syncwarp) are a
//   per-warp exchange: every lane of the mask must call the same primitive at the same statement,
//   and a lane of the mask that exited or does not exist is an error (CUDA: undefined behaviour);
// - __shared__ is `static`: one array per kernel instantiation, which is one block's shared
//   memory because blocks do not overlap; declared with the type Shared<T> (T itself under nvcc,
//   ops/cuda/device_api.cuh), its elements are bounds-checked and their accesses logged like
//   global memory's, per block (shared_memory.h);
// - global memory goes through GlobalPtr (checked_pointer.h), which checks every access against
//   its tensor's extent and reports, per launch, an element written by two threads between two
//   barriers, read by one thread while another writes it in the same barrier phase, or touched by
//   two blocks when one of them writes it (blocks are unordered within a launch).
// Every violation is an EmulationError, thrown in the offending thread and rethrown by the launch.
// Math follows CUDA's overloads: min/max of floating types are fmin/fmax (a NaN operand is
// dropped, as on the GPU), of integers the usual ones.
#include <math.h>

#include <array>
#include <barrier>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <source_location>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ops/cuda/launch_config.h"

#ifndef __host__
#define __host__
#endif
#ifndef __device__
#define __device__
#endif
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
using uint3 = dim3;

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;
inline constexpr int warpSize = 32;

template <typename T>
  requires std::is_integral_v<T>
constexpr T min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
  requires std::is_integral_v<T>
constexpr T max(T a, T b) {
  return a < b ? b : a;
}
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

namespace fast_rnnt::emulation {

class EmulationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string where(const std::source_location& loc) {
  return std::string(loc.file_name()) + ":" + std::to_string(loc.line());
}

inline bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         std::strcmp(a.file_name(), b.file_name()) == 0;
}

// The lanes of one warp and the exchange they are in.
struct Warp {
  std::mutex mu;
  std::condition_variable cv;
  uint32_t present = 0;  // lanes that exist (the last warp of a block may be partial)
  uint32_t exited = 0;   // lanes whose thread returned from the kernel
  uint32_t arrived = 0, mask = 0;
  uint64_t generation = 0;
  std::source_location site;
  std::string failure;  // set when a waiting exchange can never complete
  std::array<std::array<uint64_t, 32>, 2> values{};

  void reset(uint32_t lanes) {
    present = lanes;
    exited = arrived = mask = 0;
    generation = 0;
    failure.clear();
  }
};

// Who last touched one element of global memory in this launch (checked_pointer.h).
struct AccessRecord {
  int64_t writer_block = -1;  // -1: not written in this launch
  uint64_t writer_phase = 0;
  int writer_thread = 0;
  int64_t first_reader_block = -1;  // -1: not read in this launch
  bool read_by_several_blocks = false;
  int64_t reader_block = -1;  // the latest barrier phase in which it was read ...
  uint64_t reader_phase = 0;
  int reader_thread = 0;  // ... and by which thread (kSeveralThreads: more than one)
  static constexpr int kSeveralThreads = -1;
};

// State of one emulated launch, shared by its threads.
struct Launch {
  LaunchConfig config;
  int64_t block = 0;  // linear index of the running block
  std::optional<std::barrier<>> block_barrier;
  std::vector<Warp> warps;
  std::mutex mu;  // guards the fields below
  std::string error;
  uint64_t barrier_phase = UINT64_MAX;
  std::source_location barrier_site;
  std::mutex access_mu;  // guards the access records
  std::unordered_map<const void*, AccessRecord> accesses;         // global memory, whole launch
  std::unordered_map<const void*, AccessRecord> shared_accesses;  // __shared__, running block

  void fail(const std::string& message) {
    const std::lock_guard lock(mu);
    if (error.empty()) error = message;
  }
  bool failed() {
    const std::lock_guard lock(mu);
    return !error.empty();
  }
};

// Where the calling thread is in the grid.
struct ThreadContext {
  Launch* launch = nullptr;
  int64_t block = 0;
  int thread = 0;      // linear index in the block
  uint64_t phase = 0;  // barriers passed in this block
  int lane() const { return thread % warpSize; }
  Warp& warp() const { return launch->warps[thread / warpSize]; }
  std::string name() const {
    std::ostringstream os;
    os << "thread " << thread << " (threadIdx " << threadIdx.x << "," << threadIdx.y << ","
       << threadIdx.z << ") of block " << block;
    return os.str();
  }
};

inline thread_local ThreadContext context;

inline ThreadContext& current(const char* what) {
  if (context.launch == nullptr) {
    throw EmulationError(std::string(what) + " called outside an emulated kernel launch");
  }
  return context;
}

[[noreturn]] inline void fail_here(const std::string& message) {
  throw EmulationError(context.launch ? context.name() + ": " + message : message);
}

inline void sync_threads(const std::source_location& loc) {
  ThreadContext& ctx = current("__syncthreads");
  Launch& launch = *ctx.launch;
  {
    const std::lock_guard lock(launch.mu);
    if (launch.barrier_phase != ctx.phase) {
      launch.barrier_phase = ctx.phase;
      launch.barrier_site = loc;
    } else if (!same_site(launch.barrier_site, loc)) {
      const std::string other = where(launch.barrier_site);
      throw EmulationError(ctx.name() + ": __syncthreads() at " + where(loc) +
                           " while other threads of the block wait at " + other +
                           " (divergent barrier)");
    }
  }
  launch.block_barrier->arrive_and_wait();
  ++ctx.phase;
}

// One warp exchange: every lane of `mask` contributes `bits` and gets all lanes' contributions.
inline std::array<uint64_t, 32> warp_exchange(uint32_t mask, uint64_t bits, const char* what,
                                              const std::source_location& loc) {
  ThreadContext& ctx = current(what);
  Warp& w = ctx.warp();
  const uint32_t me = 1u << ctx.lane();
  std::unique_lock lock(w.mu);
  auto lanes = [](uint32_t m) {
    std::string s;
    for (int i = 0; i < 32; ++i) {
      if (m & (1u << i)) s += (s.empty() ? "" : ",") + std::to_string(i);
    }
    return s;
  };
  const std::string call = std::string(what) + " at " + where(loc);
  if (!(mask & me)) fail_here(call + ": the calling lane is not in the mask");
  if (mask & ~w.present) fail_here(call + ": the mask names lanes that do not exist: " + lanes(mask & ~w.present));
  if (mask & w.exited) fail_here(call + ": the mask names lanes that have exited: " + lanes(mask & w.exited));
  if (w.arrived == 0) {
    w.mask = mask;
    w.site = loc;
  } else if (w.mask != mask || !same_site(w.site, loc)) {
    fail_here(call + " while lanes " + lanes(w.arrived) + " wait in a different warp call at " +
              where(w.site));
  }
  const int slot = static_cast<int>(w.generation & 1);
  w.values[slot][ctx.lane()] = bits;
  w.arrived |= me;
  if (w.arrived == w.mask) {
    w.arrived = 0;
    ++w.generation;
    w.cv.notify_all();
    return w.values[slot];
  }
  const uint64_t generation = w.generation;
  const bool done = w.cv.wait_for(lock, std::chrono::seconds(60), [&] {
    return w.generation != generation || !w.failure.empty() || (w.mask & w.exited);
  });
  if (w.generation != generation) return w.values[slot];
  if (!w.failure.empty()) fail_here(call + ": " + w.failure);
  if (w.mask & w.exited) fail_here(call + ": lanes " + lanes(w.mask & w.exited) + " exited without joining it");
  (void)done;
  fail_here(call + ": lanes " + lanes(w.mask & ~w.arrived) + " never joined it (60 s)");
}

template <typename T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move <= 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}

template <typename T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

// The value of lane `src` (within the lane's segment of `width` lanes); an error when `src` is not
// in the mask, whose value CUDA leaves undefined.
template <typename T>
T shuffle(uint32_t mask, T v, int src, int width, const char* what, const std::source_location& loc) {
  if (width <= 0 || width > warpSize || (width & (width - 1)) != 0) {
    fail_here(std::string(what) + ": width " + std::to_string(width) + " is not a power of 2 <= 32");
  }
  const auto all = warp_exchange(mask, to_bits(v), what, loc);
  if (!(mask & (1u << src))) {
    fail_here(std::string(what) + " at " + where(loc) + ": reads lane " + std::to_string(src) +
              ", which is not in the mask");
  }
  return from_bits<T>(all[src]);
}

inline int segment_base(int width) { return context.lane() & ~(width - 1); }

// Runs `body` as the kernel of every block of the grid, `config.block` threads per block.
template <typename Body>
void emulate_grid(const char* kernel_name, const LaunchConfig& config, const Body& body) {
  try {
    checked_launch_config(kernel_name, config);
  } catch (const std::exception& e) {
    throw EmulationError(std::string("invalid launch: ") + e.what());
  }
  const auto narrow = [](const Dim3& d) {
    return dim3{static_cast<unsigned>(d.x), static_cast<unsigned>(d.y), static_cast<unsigned>(d.z)};
  };
  const dim3 grid = narrow(config.grid), block = narrow(config.block);
  const int threads = static_cast<int>(config.block.count());
  const int64_t blocks = config.grid.count();
  Launch launch;
  launch.config = config;
  launch.warps = std::vector<Warp>((threads + warpSize - 1) / warpSize);
  auto start_block = [&launch, threads] {
    launch.block_barrier.emplace(threads);
    launch.shared_accesses.clear();  // each block has its own shared memory
    launch.barrier_phase = UINT64_MAX;
    for (size_t i = 0; i < launch.warps.size(); ++i) {
      const int lanes = std::min<int>(warpSize, threads - static_cast<int>(i) * warpSize);
      launch.warps[i].reset(lanes == 32 ? ~0u : (1u << lanes) - 1);
    }
  };
  start_block();
  // Whether to run another block is decided here, once, while every thread waits: threads that
  // decided on their own could disagree and leave the others waiting at this barrier.
  bool stop = false;
  std::barrier between_blocks(threads, [&]() noexcept {
    ++launch.block;
    stop = launch.block >= blocks || launch.failed();
    if (!stop) start_block();
  });
  auto worker = [&](int t) {
    threadIdx = dim3{static_cast<unsigned>(t % block.x),
                     static_cast<unsigned>((t / block.x) % block.y),
                     static_cast<unsigned>(t / (block.x * block.y))};
    blockDim = block;
    gridDim = grid;
    while (!stop) {
      const int64_t b = launch.block;
      blockIdx = dim3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>((b / grid.x) % grid.y),
                      static_cast<unsigned>(b / (int64_t(grid.x) * grid.y))};
      context = ThreadContext{&launch, b, t, 0};
      try {
        body();
      } catch (const std::exception& e) {
        launch.fail(std::string(kernel_name) + ": " + e.what());
      }
      {
        Warp& w = context.warp();
        const std::lock_guard lock(w.mu);
        w.exited |= 1u << context.lane();
        w.cv.notify_all();
      }
      context = ThreadContext{};
      launch.block_barrier->arrive_and_drop();
      between_blocks.arrive_and_wait();
    }
  };
  {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker, t);
  }
  if (!launch.error.empty()) throw EmulationError(launch.error);
}

}  // namespace fast_rnnt::emulation

#include "ops/cuda/emulation/checked_pointer.h"
#include "ops/cuda/emulation/shared_memory.h"

inline void __syncthreads(std::source_location loc = std::source_location::current()) {
  fast_rnnt::emulation::sync_threads(loc);
}

inline void __syncwarp(unsigned mask = 0xffffffffu,
                       std::source_location loc = std::source_location::current()) {
  fast_rnnt::emulation::warp_exchange(mask, 0, "__syncwarp", loc);
}

template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = warpSize,
              std::source_location loc = std::source_location::current()) {
  namespace em = fast_rnnt::emulation;
  return em::shuffle(mask, v, em::segment_base(width) + (src & (width - 1)), width, "__shfl_sync", loc);
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize,
                  std::source_location loc = std::source_location::current()) {
  namespace em = fast_rnnt::emulation;
  const int lane = em::context.lane(), src = lane ^ lane_mask;
  // A partner outside the lane's segment reads the lane itself.
  const int from = (src & ~(width - 1)) == em::segment_base(width) ? src : lane;
  return em::shuffle(mask, v, from, width, "__shfl_xor_sync", loc);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize,
                   std::source_location loc = std::source_location::current()) {
  namespace em = fast_rnnt::emulation;
  const int lane = em::context.lane(), src = lane + static_cast<int>(delta);
  const int from = src < em::segment_base(width) + width ? src : lane;
  return em::shuffle(mask, v, from, width, "__shfl_down_sync", loc);
}

template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize,
                 std::source_location loc = std::source_location::current()) {
  namespace em = fast_rnnt::emulation;
  const int lane = em::context.lane(), src = lane - static_cast<int>(delta);
  const int from = src >= em::segment_base(width) ? src : lane;
  return em::shuffle(mask, v, from, width, "__shfl_up_sync", loc);
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              std::source_location loc = std::source_location::current()) {
  const auto all = fast_rnnt::emulation::warp_exchange(mask, predicate != 0, "__ballot_sync", loc);
  unsigned out = 0;
  for (int i = 0; i < 32; ++i) {
    if ((mask & (1u << i)) && all[i]) out |= 1u << i;
  }
  return out;
}

inline int __any_sync(unsigned mask, int predicate,
                      std::source_location loc = std::source_location::current()) {
  return __ballot_sync(mask, predicate, loc) != 0;
}

inline int __all_sync(unsigned mask, int predicate,
                      std::source_location loc = std::source_location::current()) {
  return __ballot_sync(mask, predicate, loc) == mask;
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }
