#pragma once

// Symbols of the public C++ API; everything else in libfast_rnnt is hidden.
#if defined(_WIN32)
#if defined(FAST_RNNT_BUILDING_LIBRARY)
#define FAST_RNNT_API __declspec(dllexport)
#else
#define FAST_RNNT_API __declspec(dllimport)
#endif
#else
#define FAST_RNNT_API __attribute__((visibility("default")))
#endif
