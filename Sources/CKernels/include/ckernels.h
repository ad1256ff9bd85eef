#ifndef LORWEB_CKERNELS_H
#define LORWEB_CKERNELS_H

/// x[j] = exp(x[j] - shift) in place for j < n, and returns their sum, accumulated in index order.
/// The same arithmetic as Swift's `fastExp` (Cephes expf), vectorised for the widest instruction set
/// the CPU has; every ISA gives the same bits (no FMA contraction).
float lorweb_exp_shifted_sum(float *x, long n, float shift);

/// x[j] = exp(x[j] - shift) in place for j < n (no sum).
void lorweb_exp_shifted(float *x, long n, float shift);

/// The largest of x[0..<n] (-inf when n = 0; NaN entries are skipped, as Swift's max skips them).
float lorweb_max(const float *x, long n);

/// y = GELU(x) with PyTorch's tanh approximation, for j < n (the Swift formula's bits).
void lorweb_gelu_tanh(const float *x, float *y, long n);

/// dx = g * GELU'(x) (tanh approximation), for j < n.
void lorweb_gelu_tanh_grad(const float *x, const float *g, float *dx, long n);

/// y = x sigmoid(1.702 x) (CLIP's quick_gelu), for j < n (the Swift formula's bits).
void lorweb_quick_gelu(const float *x, float *y, long n);

/// dx = g * d/dx [x sigmoid(1.702 x)], for j < n.
void lorweb_quick_gelu_grad(const float *x, const float *g, float *dx, long n);

/// The OpenBLAS kernel (an OPENBLAS_CORETYPE value) for this CPU's instruction sets: "Cooperlake",
/// "SkylakeX" or "Haswell"; NULL when it has none of theirs.
const char *lorweb_openblas_coretype_for_cpu(void);

/// A spin-wait hint to the CPU (x86 PAUSE), for threads polling a flag another thread sets.
static inline void lorweb_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
