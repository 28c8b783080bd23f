#pragma once
// __shared__ variables of emulated kernels (included by cuda_emulation.h): Shared<T> for T = E[N],
// E[N][M], ... or a scalar E. The kernels declare `__shared__ Shared<float[256]> x;`, which is
// `__shared__ float x[256];` under nvcc (ops/cuda/device_api.cuh). Here every element access is
// bounds-checked and logged as global memory's are (checked_pointer.h), with records kept per
// block (each block has its own shared memory): an element written by two threads in one barrier
// phase, or read by one thread in the phase in which another writes it, is an EmulationError.
#include <cstdint>
#include <string>
#include <type_traits>

namespace fast_rnnt::emulation {

// One element: reading converts, writing assigns, both logged.
template <typename E>
class SharedRef {
 public:
  SharedRef(E* p, int64_t index) : p_(p), index_(index) {}
  operator E() const {
    log_access(p_, /*write=*/false, "__shared__", index_, /*shared=*/true);
    return *p_;
  }
  SharedRef& operator=(const E& v) {
    log_access(p_, /*write=*/true, "__shared__", index_, /*shared=*/true);
    *p_ = v;
    return *this;
  }
  SharedRef& operator=(const SharedRef& other) { return *this = static_cast<E>(other); }
  SharedRef& operator+=(const E& v) { return *this = static_cast<E>(*this) + v; }
  SharedRef& operator-=(const E& v) { return *this = static_cast<E>(*this) - v; }
  SharedRef& operator*=(const E& v) { return *this = static_cast<E>(*this) * v; }

 private:
  E* p_;
  int64_t index_;  // flat, in the whole variable
};

// A (sub-)array of type A of a shared variable whose first element is `base`.
template <typename A>
class SharedView {
 public:
  using E = std::remove_all_extents_t<A>;
  static constexpr int64_t kExtent = std::extent_v<A>;
  static constexpr int64_t kRowElements = sizeof(std::remove_extent_t<A>) / sizeof(E);

  SharedView(E* base, int64_t offset) : base_(base), offset_(offset) {}
  auto operator[](int64_t i) const {
    if (i < 0 || i >= kExtent) {
      fail_here("__shared__ index " + std::to_string(i) + " outside its extent " +
                std::to_string(kExtent));
    }
    const int64_t at = offset_ + i * kRowElements;
    if constexpr (std::rank_v<A> == 1) {
      return SharedRef<E>(base_ + at, at);
    } else {
      return SharedView<std::remove_extent_t<A>>(base_, at);
    }
  }

 private:
  E* base_;
  int64_t offset_;
};

// The emulated Shared<T>: storage for T, accessed only through logged references. Trivial, so
// that a `static` (what __shared__ means here) of it needs no construction.
template <typename T>
class SharedVariable {
 public:
  using E = std::remove_all_extents_t<T>;

  auto operator[](int64_t i)
    requires std::is_array_v<T>
  {
    return SharedView<T>(reinterpret_cast<E*>(&storage_), 0)[i];
  }
  operator E() const
    requires(!std::is_array_v<T>)
  {
    return static_cast<E>(ref());
  }
  SharedVariable& operator=(const E& v)
    requires(!std::is_array_v<T>)
  {
    ref() = v;
    return *this;
  }

  T storage_;

 private:
  SharedRef<E> ref() const { return SharedRef<E>(const_cast<E*>(&storage_), 0); }
};

}  // namespace fast_rnnt::emulation

namespace fast_rnnt {
template <typename T>
using Shared = emulation::SharedVariable<T>;
}  // namespace fast_rnnt
