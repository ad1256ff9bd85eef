// Exponentials and maxima for softmax rows, the tanh-GELU and CLIP's quick GELU. Swift compiles for baseline x86-64
// (SSE, 4 floats per instruction), and the attention softmax and the MLPs' GELU spend most of
// their time in exp; this file builds the same loops for AVX-512 and AVX2 as well and picks the
// widest the CPU has at run time.
// Contraction into FMA is off so that every variant rounds exactly as the scalar Swift code.
#pragma clang fp contract(off)

#include "ckernels.h"
#include <stdint.h>
#include <string.h>

static inline __attribute__((always_inline)) float exp_cephes(float x) {
    float c = x != x ? 0.0f : (x < -87.33654f ? -87.33654f : (x > 88.72283f ? 88.72283f : x));
    float shifted = c * 1.44269504f + 12582912.0f;
    float n = shifted - 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, 4);
    int32_t ni = bits - 0x4B400000;
    float r = c - n * 0.693359375f + n * 2.1219444e-4f;
    float p = 1.98756915e-4f;
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.33345191e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 1.66666655e-1f;
    p = p * r + 5.00000012e-1f;
    int32_t half = ni >> 1;
    uint32_t ua = (uint32_t)(half + 127) << 23, ub = (uint32_t)(ni - half + 127) << 23;
    float sa, sb;
    memcpy(&sa, &ua, 4);
    memcpy(&sb, &ub, 4);
    float y = (p * (r * r) + r + 1.0f) * sa * sb;
    if (x != x) return x;
    return x < -87.33654f ? 0.0f : (x > 88.72283f ? __builtin_inff() : y);
}

#define EXP_LOOP(name, attr)                                                   \
    attr static void name(float *x, long n, float shift) {                     \
        for (long j = 0; j < n; j++) x[j] = exp_cephes(x[j] - shift);           \
    }

EXP_LOOP(exp_avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw"))))
EXP_LOOP(exp_avx2, __attribute__((target("avx2"))))
EXP_LOOP(exp_base, )

// Lane-wise running maxima: a max is exact in any order, so splitting the row into 16 lanes
// gives the same value as a sequential scan (NaN is skipped either way) and vectorises.
#define MAX_LOOP(name, attr)                                                   \
    attr static float name(const float *x, long n) {                           \
        float lane[16];                                                         \
        for (int l = 0; l < 16; l++) lane[l] = -__builtin_inff();               \
        long j = 0;                                                             \
        for (; j + 16 <= n; j += 16)                                            \
            for (int l = 0; l < 16; l++) lane[l] = x[j + l] > lane[l] ? x[j + l] : lane[l]; \
        float m = -__builtin_inff();                                            \
        for (int l = 0; l < 16; l++) m = lane[l] > m ? lane[l] : m;             \
        for (; j < n; j++) m = x[j] > m ? x[j] : m;                             \
        return m;                                                               \
    }

MAX_LOOP(max_avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw"))))
MAX_LOOP(max_avx2, __attribute__((target("avx2"))))
MAX_LOOP(max_base, )

typedef void (*exp_fn)(float *, long, float);
typedef float (*max_fn)(const float *, long);

static int level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return 2;
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

float lorweb_max(const float *x, long n) {
    static max_fn fn = 0;
    if (!fn) fn = (max_fn[]){max_base, max_avx2, max_avx512}[level()];  // a benign race: all store the same
    return fn(x, n);
}

void lorweb_exp_shifted(float *x, long n, float shift) {
    static exp_fn fn = 0;
    if (!fn) fn = (exp_fn[]){exp_base, exp_avx2, exp_avx512}[level()];
    fn(x, n, shift);
}

float lorweb_exp_shifted_sum(float *x, long n, float shift) {
    lorweb_exp_shifted(x, n, shift);
    float z = 0;
    for (long j = 0; j < n; j++) z += x[j];
    return z;
}

static inline __attribute__((always_inline)) float tanh_fast(float x) { return 1.0f - 2.0f / (exp_cephes(2.0f * x) + 1.0f); }

// PyTorch's tanh-approximated GELU and its derivative, in the order of operations of the Swift
// reference (Tensor+Activations.swift) so every variant gives its bits.
#define GELU_LOOPS(suffix, attr)                                                                  \
    attr static void gelu_##suffix(const float *x, float *y, long n) {                            \
        const float c = 0.7978845608028654f, k = 0.044715f;                                        \
        for (long j = 0; j < n; j++) {                                                             \
            float v = x[j];                                                                        \
            y[j] = 0.5f * v * (1.0f + tanh_fast(c * (v + k * v * v * v)));                         \
        }                                                                                          \
    }                                                                                              \
    attr static void gelu_grad_##suffix(const float *x, const float *g, float *dx, long n) {      \
        const float c = 0.7978845608028654f, k = 0.044715f;                                        \
        for (long j = 0; j < n; j++) {                                                             \
            float v = x[j], t = tanh_fast(c * (v + k * v * v * v));                                \
            dx[j] = g[j] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * c * (1.0f + 3.0f * k * v * v)); \
        }                                                                                          \
    }

GELU_LOOPS(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw"))))
GELU_LOOPS(avx2, __attribute__((target("avx2"))))
GELU_LOOPS(base, )

// CLIP's quick GELU x sigmoid(1.702 x) and its derivative g s (1 + 1.702 x (1 - s)), likewise.
#define QUICK_GELU_LOOPS(suffix, attr)                                                            \
    attr static void quick_gelu_##suffix(const float *x, float *y, long n) {                      \
        for (long j = 0; j < n; j++) y[j] = x[j] / (1.0f + exp_cephes(-1.702f * x[j]));            \
    }                                                                                              \
    attr static void quick_gelu_grad_##suffix(const float *x, const float *g, float *dx, long n) {\
        for (long j = 0; j < n; j++) {                                                             \
            float v = x[j], s = 1.0f / (1.0f + exp_cephes(-1.702f * v));                           \
            dx[j] = g[j] * s * (1.0f + 1.702f * v * (1.0f - s));                                   \
        }                                                                                          \
    }

QUICK_GELU_LOOPS(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw"))))
QUICK_GELU_LOOPS(avx2, __attribute__((target("avx2"))))
QUICK_GELU_LOOPS(base, )

typedef void (*gelu_fn)(const float *, float *, long);
typedef void (*gelu_grad_fn)(const float *, const float *, float *, long);

void lorweb_gelu_tanh(const float *x, float *y, long n) {
    static gelu_fn fn = 0;
    if (!fn) fn = (gelu_fn[]){gelu_base, gelu_avx2, gelu_avx512}[level()];
    fn(x, y, n);
}

void lorweb_gelu_tanh_grad(const float *x, const float *g, float *dx, long n) {
    static gelu_grad_fn fn = 0;
    if (!fn) fn = (gelu_grad_fn[]){gelu_grad_base, gelu_grad_avx2, gelu_grad_avx512}[level()];
    fn(x, g, dx, n);
}

void lorweb_quick_gelu(const float *x, float *y, long n) {
    static gelu_fn fn = 0;
    if (!fn) fn = (gelu_fn[]){quick_gelu_base, quick_gelu_avx2, quick_gelu_avx512}[level()];
    fn(x, y, n);
}

void lorweb_quick_gelu_grad(const float *x, const float *g, float *dx, long n) {
    static gelu_grad_fn fn = 0;
    if (!fn) fn = (gelu_grad_fn[]){quick_gelu_grad_base, quick_gelu_grad_avx2, quick_gelu_grad_avx512}[level()];
    fn(x, g, dx, n);
}

const char *lorweb_openblas_coretype_for_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
        return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return 0;
}
