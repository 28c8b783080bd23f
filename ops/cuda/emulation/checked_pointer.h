#pragma once
// Global-memory pointers of emulated kernels (included by cuda_emulation.h): GlobalPtr<T> and
// RestrictPtr<T> are CheckedPtr<T>, which knows the extent of the tensor it points into.
//
// Every access through it, inside an emulated launch, is
// - bounds-checked: an element outside [base, base + extent) is an error, not a read;
// - logged per element, with the block, the thread and the barrier phase (barriers passed), and
//   an error when, in one launch,
//     * two threads of a block write the element in the same barrier phase (nondeterminism),
//     * one thread reads it in the barrier phase in which another thread writes it (a race),
//     * two blocks touch it and at least one of them writes it (blocks are unordered).
// A thread may read and write its own elements freely. Pointer arithmetic is free, as in CUDA;
// only dereferencing checks.
#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>

namespace fast_rnnt::emulation {

// `shared`: an element of a __shared__ array (shared_memory.h), whose records are the running
// block's (so the rules about two blocks never apply to it).
inline void log_access(const void* address, bool write, const char* name, int64_t index,
                       bool shared = false) {
  if (context.launch == nullptr) return;  // host code: bounds only
  const ThreadContext& ctx = context;
  Launch& launch = *ctx.launch;
  const int64_t b = ctx.block;
  const int t = ctx.thread;
  const uint64_t ph = ctx.phase;
  auto conflict = [&](const std::string& what) {
    fail_here(std::string(write ? "write to " : "read of ") + name + "[" + std::to_string(index) +
              "] in barrier phase " + std::to_string(ph) + ": " + what);
  };
  const std::lock_guard lock(launch.access_mu);
  AccessRecord& r = (shared ? launch.shared_accesses : launch.accesses)[address];
  if (r.writer_block >= 0 && r.writer_block != b) {
    conflict("block " + std::to_string(r.writer_block) + " writes it in the same launch");
  }
  if (r.writer_block == b && r.writer_phase == ph && r.writer_thread != t) {
    conflict("thread " + std::to_string(r.writer_thread) +
             " writes it in the same barrier phase");
  }
  if (write) {
    if (r.first_reader_block >= 0 && (r.first_reader_block != b || r.read_by_several_blocks)) {
      conflict("another block reads it in the same launch");
    }
    if (r.reader_block == b && r.reader_phase == ph && r.reader_thread != t) {
      conflict(r.reader_thread == AccessRecord::kSeveralThreads
                   ? std::string("other threads read it in the same barrier phase")
                   : "thread " + std::to_string(r.reader_thread) +
                         " reads it in the same barrier phase");
    }
    r.writer_block = b;
    r.writer_phase = ph;
    r.writer_thread = t;
    return;
  }
  if (r.first_reader_block < 0) {
    r.first_reader_block = b;
  } else if (r.first_reader_block != b) {
    r.read_by_several_blocks = true;
  }
  if (r.reader_block == b && r.reader_phase == ph) {
    if (r.reader_thread != t) r.reader_thread = AccessRecord::kSeveralThreads;
  } else {
    r.reader_block = b;
    r.reader_phase = ph;
    r.reader_thread = t;
  }
}

template <typename T>
class CheckedPtr {
 public:
  using element_type = T;

  CheckedPtr() = default;
  CheckedPtr(std::nullptr_t) {}
  // `extent` elements from `base` are valid; `name` appears in error messages.
  CheckedPtr(T* base, int64_t extent, const char* name)
      : base_(base), extent_(extent), offset_(0), name_(name) {}
  template <typename U>
    requires(!std::is_same_v<U, T> && std::is_convertible_v<U*, T*>)
  CheckedPtr(const CheckedPtr<U>& other)
      : base_(other.base_), extent_(other.extent_), offset_(other.offset_), name_(other.name_) {}

  explicit operator bool() const { return base_ != nullptr; }
  CheckedPtr operator+(int64_t n) const { return at_offset(offset_ + n); }
  CheckedPtr operator-(int64_t n) const { return at_offset(offset_ - n); }
  CheckedPtr& operator+=(int64_t n) { return *this = *this + n; }
  CheckedPtr& operator-=(int64_t n) { return *this = *this - n; }
  CheckedPtr& operator++() { return *this += 1; }

  // An element of a writable pointer: reading converts, writing assigns.
  class Ref {
   public:
    operator std::remove_const_t<T>() const { return p_.load(i_); }
    Ref& operator=(const std::remove_const_t<T>& v) {
      p_.store(i_, v);
      return *this;
    }
    Ref& operator=(const Ref& other) { return *this = static_cast<std::remove_const_t<T>>(other); }
    Ref& operator+=(const std::remove_const_t<T>& v) { return *this = p_.load(i_) + v; }
    Ref& operator-=(const std::remove_const_t<T>& v) { return *this = p_.load(i_) - v; }
    Ref& operator*=(const std::remove_const_t<T>& v) { return *this = p_.load(i_) * v; }

   private:
    friend class CheckedPtr;
    Ref(const CheckedPtr& p, int64_t i) : p_(p), i_(i) {}
    CheckedPtr p_;
    int64_t i_;
  };

  decltype(auto) operator[](int64_t i) const {
    if constexpr (std::is_const_v<T>) {
      return load(i);
    } else {
      return Ref(*this, i);
    }
  }
  decltype(auto) operator*() const { return (*this)[0]; }

  std::remove_const_t<T> load(int64_t i) const {
    const T* q = element(i, /*write=*/false);
    return *q;
  }
  void store(int64_t i, const std::remove_const_t<T>& v) const
    requires(!std::is_const_v<T>)
  {
    *element(i, /*write=*/true) = v;
  }

 private:
  template <typename U>
  friend class CheckedPtr;

  CheckedPtr at_offset(int64_t offset) const {
    CheckedPtr p = *this;
    p.offset_ = offset;
    return p;
  }
  T* element(int64_t i, bool write) const {
    if (base_ == nullptr) fail_here(std::string(write ? "write through" : "read through") + " a null pointer");
    const int64_t at = offset_ + i;
    if (at < 0 || at >= extent_) {
      fail_here(std::string(write ? "write to " : "read of ") + name_ + "[" + std::to_string(at) +
                "], outside its " + std::to_string(extent_) + " elements");
    }
    log_access(base_ + at, write, name_, at);
    return base_ + at;
  }

  T* base_ = nullptr;
  int64_t extent_ = 0, offset_ = 0;
  const char* name_ = "";
};

}  // namespace fast_rnnt::emulation

namespace fast_rnnt {
template <typename T>
using GlobalPtr = emulation::CheckedPtr<T>;
template <typename T>
using RestrictPtr = emulation::CheckedPtr<T>;
}  // namespace fast_rnnt

// Read-only cached load: a plain checked read here.
template <typename T>
T __ldg(const fast_rnnt::emulation::CheckedPtr<const T>& p) {
  return p[0];
}
