/* The fused CPU kernel of wce_ref.softmax_wce: value and gradient in one pass over each row.
 *
 * Built from source at first use by wce_ref/frameworks/_torch_cpu.py (any C99 compiler; no Python or torch
 * headers) and called through ctypes on the tensors' memory. The arithmetic is the Triton kernel's
 * (wce_ref/frameworks/_triton_kernel.py) in double precision for float32 and float64 logits: per row i,
 *
 *   m = max_j x_j, k = first arg-max, s = sum_{j != k} exp(x_j - m), d = m - x_y (0 where y holds a max),
 *   l = (1 - eps) w_y (d + log1p(s)) + eps / C (sum_j w_j (m - x_j) + W log1p(s)),
 *   g_j = t ((1 - eps) w_y (p_j - [j = y]) + eps / C (W p_j - w_j)),  p_j = exp(x_j - m) / (1 + s),
 *
 * with the label's p_y - 1 = -r / (1 + s), r = s where y holds a max, else (1 + s) - exp(x_y - m) (no
 * cancellation of the loss near 0), t = sample weight / Z and Z the reduction's normaliser. Row sums and the
 * normaliser are accumulated with Neumaier's compensated summation, per thread, then combined in order.
 *
 * On x86-64 with AVX2 and FMA, float32 rows without label smoothing take rows_float_avx2: eight columns per
 * instruction, two rows interleaved, the logarithms of four rows at once (the per-row scalar work is what a
 * narrow row costs), with the same precision (exp's argument split exactly, sums in double). Rows are split
 * over a pool of threads kept between calls.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RED_NONE = 0, RED_SUM = 1, RED_MEAN = 2, RED_WMEAN = 3 };

typedef struct {
    double sum, comp;
} acc_t;

#if defined(__GNUC__) || defined(__clang__)
#define CACHE_ALIGNED __attribute__((aligned(128)))
#else
#define CACHE_ALIGNED
#endif

static inline void acc_add(acc_t *a, double v) {
    double t = a->sum + v;
    a->comp += fabs(a->sum) >= fabs(v) ? (a->sum - t) + v : (v - t) + a->sum;
    a->sum = t;
}

static inline double acc_value(const acc_t *a) { return a->sum + a->comp; }

typedef struct {
    const void *x; const int64_t *y; const void *w; const void *sw;
    int64_t n, c, stride, ignore_index; int has_ignore; double eps, w_total, inv_norm;
    int reduction; void *out; void *grad; int64_t lo, hi; acc_t total; int failed, bad;
    acc_t *parts;  /* the prepass: one sum per PREPASS_BLOCK rows */
} CACHE_ALIGNED job_t;  /* one cache line or more each: the threads' running sums do not share one */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

/* exp(t) for t <= 0 to float precision, within 2 ULP: the reduction t = n log 2 + r in double (t = x_j - m is
 * exact there, and so is r to float precision, however large |t|), then Cephes' degree-6 expf polynomial in
 * float; 2^n is applied as two factors so that results down to the denormals round once. Vectorisable. */
static inline float exp_neg_f(double t) {
    t = t < -170.0 ? -170.0 : t;
    double fn = (t * 1.4426950408889634 + 0x1.8p52) - 0x1.8p52;  /* round to nearest, without floor() */
    float r = (float)(t - fn * 0.6931471805599453);
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r * r + r + 1.0f;
    int32_t n = (int32_t)fn, h = n / 2;
    union { int32_t i; float f; } a = {(h + 127) << 23}, b = {(n - h + 127) << 23};
    return e * a.f * b.f;
}

static inline double exp_neg_d(double t) { return exp(t); }

/* Four independent partial sums and maxima, combined in a fixed order (the result does not depend on the
 * threads), so that a row is not one chain of dependent additions. */
#define DEFINE_ROW_OPS(T)                                                                                       \
static inline double row_sum_##T(const T *v, int64_t c) {                                                      \
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;                                                             \
    int64_t j = 0;                                                                                             \
    for (; j + 4 <= c; j += 4) { a0 += v[j]; a1 += v[j + 1]; a2 += v[j + 2]; a3 += v[j + 3]; }                 \
    for (; j < c; ++j) a0 += v[j];                                                                             \
    return (a0 + a1) + (a2 + a3);                                                                              \
}                                                                                                              \
static inline T row_max_##T(const T *v, int64_t c, T *lo) {                                                    \
    T a0 = v[0], a1 = v[0], a2 = v[0], a3 = v[0], b0 = v[0], b1 = v[0];                                        \
    int64_t j = 1;                                                                                             \
    for (; j + 4 <= c; j += 4) {                                                                               \
        a0 = v[j] > a0 ? v[j] : a0;                                                                            \
        a1 = v[j + 1] > a1 ? v[j + 1] : a1;                                                                    \
        a2 = v[j + 2] > a2 ? v[j + 2] : a2;                                                                    \
        a3 = v[j + 3] > a3 ? v[j + 3] : a3;                                                                    \
        b0 = v[j] < b0 ? v[j] : b0;                                                                            \
        b1 = v[j + 1] < b1 ? v[j + 1] : b1;                                                                    \
        b0 = v[j + 2] < b0 ? v[j + 2] : b0;                                                                    \
        b1 = v[j + 3] < b1 ? v[j + 3] : b1;                                                                    \
    }                                                                                                          \
    for (; j < c; ++j) { a0 = v[j] > a0 ? v[j] : a0; b0 = v[j] < b0 ? v[j] : b0; }                             \
    *lo = b1 < b0 ? b1 : b0;                                                                                   \
    a0 = a1 > a0 ? a1 : a0;                                                                                    \
    a2 = a3 > a2 ? a3 : a2;                                                                                    \
    return a2 > a0 ? a2 : a0;                                                                                  \
}
DEFINE_ROW_OPS(float)
DEFINE_ROW_OPS(double)

/* The gradient of one row in place: buf holds e_j (1 at k) on entry, g_j on exit. */
#define DEFINE_ROW_GRAD(T)                                                                                      \
static inline void row_grad_##T(T *buf, const T *w, int64_t c, int64_t y, double inv, double rest, double e_y,  \
                                double a, double b, double W, double w_y) {                                    \
    if (b == 0.0) {                                                                                            \
        double ai = a * inv;                                                                                   \
        for (int64_t j = 0; j < c; ++j) buf[j] = (T)(ai * (double)buf[j]);                                     \
        buf[y] = (T)(-a * rest * inv);                                                                         \
        return;                                                                                                \
    }                                                                                                          \
    for (int64_t j = 0; j < c; ++j) {                                                                          \
        double p = (double)buf[j] * inv;                                                                       \
        buf[j] = (T)(a * p + b * (W * p - (w ? (double)w[j] : 1.0)));                                          \
    }                                                                                                          \
    buf[y] = (T)(a * (-rest * inv) + b * (W * (e_y * inv) - w_y));                                             \
}
DEFINE_ROW_GRAD(float)
DEFINE_ROW_GRAD(double)

/* The rows [lo, hi) of a job: per row the max and first arg-max k, e_j = exp(x_j - m) (into the gradient's row,
 * or a scratch row), s without the k-th term, the value, then the gradient in place. */
#define DEFINE_ROWS(T, EXP, LOG1P)                                                                              \
MULTIVERSION static void rows_##T(void *job) {                                                                \
    job_t *jb = (job_t *)job;                                                                                  \
    const T *x = (const T *)jb->x, *w = (const T *)jb->w, *sw = (const T *)jb->sw;                             \
    T *out = (T *)jb->out, *grad = (T *)jb->grad;                                                              \
    const int64_t c = jb->c;                                                                                   \
    const double eps = jb->eps, eps_c = eps / (double)c, W = jb->w_total;                                      \
    T *scratch = grad ? NULL : (T *)malloc(sizeof(T) * (size_t)c);                                             \
    if (!grad && !scratch) { jb->failed = 1; return; }                                                         \
    for (int64_t i = jb->lo; i < jb->hi; ++i) {                                                                \
        const T *row = x + i * jb->stride;                                                                     \
        T *buf = grad ? grad + i * c : scratch;                                                                \
        int64_t y = jb->y[i];                                                                                  \
        if (jb->has_ignore && y == jb->ignore_index) {  /* no value, no gradient; finite logits */             \
            for (int64_t j = 0; j < c; ++j) jb->bad |= !isfinite(row[j]);                                      \
            if (grad) for (int64_t j = 0; j < c; ++j) buf[j] = 0;                                              \
            if (jb->reduction == RED_NONE) out[i] = 0;                                                         \
            continue;                                                                                          \
        }                                                                                                      \
        T lo, mt = row_max_##T(row, c, &lo);                                                                   \
        if (!(isfinite(mt) && isfinite(lo))) { jb->bad = 1; continue; }  /* NaN at row[0], or an infinity */   \
        int64_t k = 0;                                                                                         \
        while (row[k] != mt) ++k;                                                                              \
        double m = (double)mt;                                                                                 \
        for (int64_t j = 0; j < c; ++j) buf[j] = (T)EXP((double)row[j] - m);                                   \
        buf[k] = 0;                                                                                            \
        double s = row_sum_##T(buf, c), smooth = 0.0;                                                          \
        buf[k] = 1;                                                                                            \
        if (eps != 0.0)                                                                                        \
            for (int64_t j = 0; j < c; ++j) smooth += (w ? (double)w[j] : 1.0) * (m - (double)row[j]);         \
        if (!isfinite(s)) { jb->bad = 1; continue; }  /* a NaN elsewhere in the row */                        \
        double d = m - (double)row[y], lse = LOG1P(s), w_y = w ? (double)w[y] : 1.0;                           \
        double sw_i = sw ? (double)sw[i] : 1.0;                                                                \
        double per = w_y * (d + lse);                                                                          \
        if (eps != 0.0) per = (1.0 - eps) * per + eps_c * (smooth + W * lse);                                  \
        per *= sw_i;                                                                                           \
        if (jb->reduction == RED_NONE) out[i] = (T)per; else acc_add(&jb->total, per);                         \
        if (!grad) continue;                                                                                   \
        double t = sw_i * jb->inv_norm, e_y = d == 0.0 ? 1.0 : EXP(-d);                                        \
        double rest = d == 0.0 ? s : (1.0 + s) - e_y;                                                          \
        row_grad_##T(buf, w, c, y, 1.0 / (1.0 + s), rest, e_y, t * w_y * (1.0 - eps), t * eps_c, W, w_y);      \
    }                                                                                                          \
    free(scratch);                                                                                             \
}

/* log(1 + s) for s >= 0 within a few ULP of double, as Goldberg's log(u) s / (u - 1), u = 1 + s: the rounding of
 * u cancels out (glibc's log1p and log1pf take several times as long as log). */
static inline double log1p_pos(double s) {
    double u = 1.0 + s;
    return u == 1.0 ? s : log(u) * (s / (u - 1.0));
}

DEFINE_ROWS(float, exp_neg_f, log1p_pos)
DEFINE_ROWS(double, exp_neg_d, log1p_pos)

/* ------------------------------------------------------------------ float32 rows with AVX2 and FMA (x86-64)
 *
 * The same row as rows_float without label smoothing, eight columns per instruction: the row's max and min, the
 * first arg-max k, then e_j = exp(x_j - m) with x_j - m split exactly into t + lo (Knuth's two-sum) so that the
 * exponential is as accurate as the double reduction above, s summed in double without the k-th term (e_k = 1
 * exactly), the value and the gradient (eps = 0: g_j = a e_j / (1 + s), the label's -a r / (1 + s)) as there. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define WCE_AVX2 1
#define AVX2_FN __attribute__((target("avx2,fma")))

/* exp(t + lo) for t <= 0 and |lo| <= ulp(t), eight at once; NaN in t gives NaN. The constants are exp_neg_f's. */
AVX2_FN static inline __m256 exp8_neg(__m256 t, __m256 lo) {
    t = _mm256_max_ps(_mm256_set1_ps(-104.0f), t);  /* the second operand is returned for a NaN */
    __m256 fn = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), t);
    r = _mm256_add_ps(_mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), r), lo);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
    __m256i n = _mm256_cvtps_epi32(fn), h = _mm256_srai_epi32(n, 1), bias = _mm256_set1_epi32(127);
    __m256 a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
    __m256 b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(n, h), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(e, a), b);
}

AVX2_FN static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

AVX2_FN static inline double hsum4(__m256d s) {
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

/* e = exp(v - m) for one block, v - m split exactly into t + err (Knuth's two-sum; an infinity in v gives NaN
 * there, so non-finite logits show in s), stored into buf when not NULL (the first lanes of tail only where not
 * full); the lanes in `in` added into *s in double, and where ties is not NULL, only those below the max, the
 * number of maxima (e = 1 exactly there) into *ties. */
AVX2_FN static inline void block_exp8(__m256 v, float m, __m256 in, float *buf, int full, __m256i tail, __m256d *s,
                                      int *ties) {
    __m256 t = _mm256_sub_ps(v, _mm256_set1_ps(m)), bb = _mm256_sub_ps(t, v);
    __m256 err = _mm256_add_ps(_mm256_sub_ps(v, _mm256_sub_ps(t, bb)), _mm256_sub_ps(_mm256_set1_ps(-m), bb));
    __m256 e = exp8_neg(t, err);
    if (buf) {
        if (full) _mm256_storeu_ps(buf, e); else _mm256_maskstore_ps(buf, tail, e);
    }
    if (ties) {
        __m256 top = _mm256_and_ps(_mm256_cmp_ps(t, _mm256_setzero_ps(), _CMP_EQ_OQ), in);
        *ties += __builtin_popcount((unsigned)_mm256_movemask_ps(top));
        e = _mm256_andnot_ps(top, e);
    }
    if (!full) e = _mm256_and_ps(e, in);
    *s = _mm256_add_pd(_mm256_add_pd(*s, _mm256_cvtps_pd(_mm256_castps256_ps128(e))),
                       _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

/* For nr (1 or 2, a constant after inlining) rows at once, so that the rows' chains of dependent instructions
 * overlap: each row's max m (a NaN is skipped here: it shows in s), e_j = exp(x_j - m) into buf[r] where store
 * (a constant), and s = sum_{j != k} e_j in double. Where exact_ties, s leaves the maxima out; else s is the
 * whole sum less 1 (e_k = 1 exactly), which is exact to 2^-30 relative unless s < 2^-22: the row is then summed
 * again with exact_ties (a loss below about 1e-7; rare). */
AVX2_FN static inline void rows_stats8(int nr, int store, int exact_ties, const float *const *row, int64_t c,
                                       __m256i tail, float *m, float *const *buf, double *s) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY), in = _mm256_castsi256_ps(tail);
    const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    __m256 vmax[2] = {ninf, ninf};
    int64_t j = 0;
    for (; j + 8 <= c; j += 8)
        for (int r = 0; r < nr; ++r) vmax[r] = _mm256_max_ps(_mm256_loadu_ps(row[r] + j), vmax[r]);
    for (int r = 0; r < nr && j < c; ++r)
        vmax[r] = _mm256_max_ps(_mm256_blendv_ps(ninf, _mm256_maskload_ps(row[r] + j, tail), in), vmax[r]);
    __m256d acc[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    int ties[2] = {0, 0};
    for (int r = 0; r < nr; ++r) m[r] = hmax8(vmax[r]);
    for (j = 0; j + 8 <= c; j += 8)
        for (int r = 0; r < nr; ++r)
            block_exp8(_mm256_loadu_ps(row[r] + j), m[r], all, store ? buf[r] + j : NULL, 1, tail, &acc[r],
                       exact_ties ? &ties[r] : NULL);
    for (int r = 0; r < nr && j < c; ++r)
        block_exp8(_mm256_maskload_ps(row[r] + j, tail), m[r], in, store ? buf[r] + j : NULL, 0, tail, &acc[r],
                   exact_ties ? &ties[r] : NULL);
    for (int r = 0; r < nr; ++r) {
        s[r] = exact_ties ? hsum4(acc[r]) + (double)(ties[r] - 1) : hsum4(acc[r]) - 1.0;
        if (!exact_ties && !(s[r] >= 0x1p-22) && isfinite(m[r]))
            rows_stats8(1, 0, 1, &row[r], c, tail, &m[r], NULL, &s[r]);
    }
}

/* log1p(s) for four s >= 0 (finite), to about 1e-13 relative (far below float32's ULP): u = 1 + s = 2^e f with f in
 * [sqrt(1/2), sqrt(2)), log f = 2 atanh z = 2 z (1 + z^2/3 + ... + z^16/17), z = (f - 1) / (f + 1), |z| < 0.172,
 * and Goldberg's factor s / (u - 1) for the rounding of u (as log1p_pos; glibc's log is a call per row). */
AVX2_FN static inline __m256d log1p4(__m256d s) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d u = _mm256_add_pd(one, s);
    __m256i bits = _mm256_castpd_si256(u), magic = _mm256_set1_epi64x(0x4330000000000000LL);
    __m256d e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), magic)),
                              _mm256_set1_pd(0x1p52 + 1023.0));
    __m256d f = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                                                    _mm256_castpd_si256(one)));
    __m256d big = _mm256_cmp_pd(f, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    f = _mm256_blendv_pd(f, _mm256_mul_pd(f, _mm256_set1_pd(0.5)), big);
    e = _mm256_add_pd(e, _mm256_and_pd(big, one));
    __m256d z = _mm256_div_pd(_mm256_sub_pd(f, one), _mm256_add_pd(f, one)), z2 = _mm256_mul_pd(z, z);
    __m256d q = _mm256_set1_pd(1.0 / 17);
    static const double c[8] = {1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1.0};
    for (int k = 0; k < 8; ++k) q = _mm256_fmadd_pd(q, z2, _mm256_set1_pd(c[k]));
    __m256d lg = _mm256_fmadd_pd(e, _mm256_set1_pd(0.6931471805599453), _mm256_mul_pd(_mm256_add_pd(z, z), q));
    __m256d um1 = _mm256_sub_pd(u, one);
    __m256d r = _mm256_mul_pd(lg, _mm256_div_pd(s, _mm256_max_pd(um1, _mm256_set1_pd(DBL_MIN))));
    return _mm256_blendv_pd(r, s, _mm256_cmp_pd(um1, _mm256_setzero_pd(), _CMP_EQ_OQ));
}

/* The value and gradient of row i from its max m, s and log1p(s) (rows_float's, with eps = 0); the value is
 * returned (0 for a rejected row, which sets bad). */
AVX2_FN static inline double row_finish8(job_t *jb, int64_t i, const float *row, float *buf, float mt, double s,
                                         double lse) {
    const float *w = (const float *)jb->w, *sw = (const float *)jb->sw;
    const int64_t c = jb->c, y = jb->y[i];
    if (!(isfinite(mt) && isfinite(s))) { jb->bad = 1; return 0.0; }
    double d = (double)mt - (double)row[y], w_y = w ? (double)w[y] : 1.0, sw_i = sw ? (double)sw[i] : 1.0;
    double per = sw_i * (w_y * (d + lse));
    if (jb->reduction == RED_NONE) ((float *)jb->out)[i] = (float)per;
    if (!buf) return per;
    double a = sw_i * jb->inv_norm * w_y, inv = 1.0 / (1.0 + s), e_y = d == 0.0 ? 1.0 : exp_neg_f(-d);
    double rest = d == 0.0 ? s : (1.0 + s) - e_y;
    const float ai = (float)(a * inv);
    int64_t j = 0;
    for (; j + 8 <= c; j += 8) _mm256_storeu_ps(buf + j, _mm256_mul_ps(_mm256_set1_ps(ai), _mm256_loadu_ps(buf + j)));
    for (; j < c; ++j) buf[j] = ai * buf[j];
    buf[y] = (float)(-a * rest * inv);
    return per;
}

#define GROUP 8

/* Rows in groups of GROUP: the non-ignored rows' max and s two at a time, the logarithms four at a time, then
 * each row's value and gradient; the group's values are added in double, then once into the compensated sum. */
AVX2_FN static void rows_float_avx2(void *job) {
    job_t *jb = (job_t *)job;
    const float *x = (const float *)jb->x;
    float *grad = (float *)jb->grad;
    const int64_t c = jb->c;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(c % 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t i0 = jb->lo; i0 < jb->hi; i0 += GROUP) {
        const int g = jb->hi - i0 < GROUP ? (int)(jb->hi - i0) : GROUP;
        int live[GROUP], nl = 0;
        float m[GROUP];
        double s[GROUP] = {0}, lse[GROUP];
        for (int r = 0; r < g; ++r) {
            int64_t i = i0 + r;
            if (jb->has_ignore && jb->y[i] == jb->ignore_index) {  /* no value, no gradient; finite logits */
                const float *row = x + i * jb->stride;
                for (int64_t j = 0; j < c; ++j) jb->bad |= !isfinite(row[j]);
                if (grad) memset(grad + i * c, 0, sizeof(float) * (size_t)c);
                if (jb->reduction == RED_NONE) ((float *)jb->out)[i] = 0;
            } else {
                live[nl++] = r;
            }
        }
        for (int q = 0; q < nl; q += 2) {
            const int a = live[q], b = live[q + 1 < nl ? q + 1 : q];
            const float *row[2] = {x + (i0 + a) * jb->stride, x + (i0 + b) * jb->stride};
            float *buf[2] = {grad ? grad + (i0 + a) * c : NULL, grad ? grad + (i0 + b) * c : NULL}, mm[2];
            double ss[2];
            if (q + 1 < nl && grad) rows_stats8(2, 1, 0, row, c, tail, mm, buf, ss);
            else if (q + 1 < nl) rows_stats8(2, 0, 0, row, c, tail, mm, buf, ss);
            else rows_stats8(1, grad != NULL, 0, row, c, tail, mm, buf, ss);
            m[a] = mm[0], s[a] = ss[0];
            if (q + 1 < nl) m[b] = mm[1], s[b] = ss[1];
        }
        for (int r = 0; r < GROUP; r += 4) {
            __m256d v = _mm256_loadu_pd(s + r);
            v = _mm256_blendv_pd(v, _mm256_setzero_pd(), _mm256_cmp_pd(v, v, _CMP_UNORD_Q));  /* NaN: a bad row */
            _mm256_storeu_pd(lse + r, log1p4(_mm256_max_pd(v, _mm256_setzero_pd())));
        }
        double sum = 0.0;
        for (int q = 0; q < nl; ++q) {
            const int r = live[q];
            const int64_t i = i0 + r;
            sum += row_finish8(jb, i, x + i * jb->stride, grad ? grad + i * c : NULL, m[r], s[r], lse[r]);
        }
        if (jb->reduction != RED_NONE) acc_add(&jb->total, sum);
    }
}

/* exp(t) for four t <= 0 in double to about 1e-15 relative (t below -746 gives 0): n = round(t / log 2), r = t - n
 * log 2 in two parts, a degree-11 Taylor polynomial, 2^n applied as two factors (results down to the denormals).
 * NaN gives NaN. */
AVX2_FN static inline __m256d exp4_neg_pd(__m256d t) {
    t = _mm256_max_pd(_mm256_set1_pd(-746.0), t);  /* the second operand is returned for a NaN */
    __m256d fn = _mm256_round_pd(_mm256_mul_pd(t, _mm256_set1_pd(1.4426950408889634)),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(fn, _mm256_set1_pd(6.93147180369123816490e-01), t);
    r = _mm256_fnmadd_pd(fn, _mm256_set1_pd(1.90821492927058770002e-10), r);
    __m256d p = _mm256_set1_pd(1.0 / 39916800.0);
    static const double c[11] = {1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120,
                                 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0};
    for (int k = 0; k < 11; ++k) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c[k]));
    const __m256d magic = _mm256_set1_pd(0x1.8p52);
    __m256d fh = _mm256_round_pd(_mm256_mul_pd(fn, _mm256_set1_pd(0.5)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256i h = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(fh, magic)), _mm256_castpd_si256(magic));
    __m256i l = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(_mm256_sub_pd(fn, fh), magic)),
                                 _mm256_castpd_si256(magic));
    const __m256i bias = _mm256_set1_epi64x(1023);
    __m256d a = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(h, bias), 52));
    __m256d b = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(l, bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, a), b);
}

/* Four rows of two classes (contiguous floats) as doubles, lanes in the row order (0, 2, 1, 3). */
AVX2_FN static inline void load_c2(const float *x, __m256d *x0, __m256d *x1) {
    __m256 xv = _mm256_loadu_ps(x);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(xv)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1));
    *x0 = _mm256_unpacklo_pd(lo, hi);
    *x1 = _mm256_unpackhi_pd(lo, hi);
}

#define C2_BLOCK 64

/* Two classes (rows of 2 contiguous floats, eps = 0), four rows per step in double: s = exp(-|x_0 - x_1|) (one
 * exponential a row), the value w_y (d + log1p(s)) with d = 0 or |x_0 - x_1|, the gradient -+ a q with
 * q = s / (1 + s) where y holds the max, else 1 / (1 + s): the general row's arithmetic without its per-row
 * work. Blocks of C2_BLOCK rows are passed over three times (the exponentials; the logarithms and 1 / (1 + s);
 * values and gradients), each pass's steps independent. The last n % 4 rows go to rows_float_avx2. */
AVX2_FN static void rows_float_c2(void *job) {
    job_t *jb = (job_t *)job;
    const float *x = (const float *)jb->x, *w = (const float *)jb->w, *sw = (const float *)jb->sw;
    float *out = (float *)jb->out, *grad = (float *)jb->grad;
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0);
    const __m256d big = _mm256_set1_pd(DBL_MAX), inv_norm = _mm256_set1_pd(jb->inv_norm);
    const __m256d all = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    __m256d sum = zero, comp = zero, ok = all;
    double sb[C2_BLOCK], lb[C2_BLOCK], ib[C2_BLOCK];
    const int64_t end = jb->lo + (jb->hi - jb->lo) / 4 * 4;
    for (int64_t b0 = jb->lo; b0 < end; b0 += C2_BLOCK) {
        const int64_t len = end - b0 < C2_BLOCK ? end - b0 : C2_BLOCK;
        for (int64_t j = 0; j < len; j += 4) {
            __m256d x0, x1;
            load_c2(x + 2 * (b0 + j), &x0, &x1);
            __m256d a = _mm256_andnot_pd(sign, _mm256_sub_pd(x0, x1));
            ok = _mm256_and_pd(ok, _mm256_cmp_pd(a, big, _CMP_LE_OQ));  /* NaN or an infinity: not (ignored rows
                                                                           included: the reference checks them) */
            _mm256_storeu_pd(sb + j, exp4_neg_pd(_mm256_xor_pd(a, sign)));
        }
        for (int64_t j = 0; j < len; j += 4) {
            __m256d sv = _mm256_max_pd(_mm256_loadu_pd(sb + j), zero);
            _mm256_storeu_pd(lb + j, log1p4(sv));
            if (grad) _mm256_storeu_pd(ib + j, _mm256_div_pd(one, _mm256_add_pd(one, sv)));
        }
        for (int64_t j = 0; j < len; j += 4) {
            const int64_t i = b0 + j, *yi = jb->y + i;
            __m256d x0, x1;
            load_c2(x + 2 * i, &x0, &x1);
            __m256i yv = _mm256_setr_epi64x(yi[0], yi[2], yi[1], yi[3]);  /* from registers: no store forwarding */
            __m256d y1 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(yv, _mm256_set1_epi64x(1))), wv = one;
            if (w) wv = _mm256_blendv_pd(_mm256_set1_pd((double)w[0]), _mm256_set1_pd((double)w[1]), y1);
            if (sw) wv = _mm256_mul_pd(wv, _mm256_setr_pd((double)sw[i], (double)sw[i + 2], (double)sw[i + 1],
                                                          (double)sw[i + 3]));
            if (jb->has_ignore)
                wv = _mm256_andnot_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(yv, _mm256_set1_epi64x(jb->ignore_index))),
                                      wv);
            __m256d d = _mm256_sub_pd(_mm256_max_pd(x0, x1), _mm256_blendv_pd(x0, x1, y1));
            __m256d per = _mm256_mul_pd(wv, _mm256_add_pd(d, _mm256_loadu_pd(lb + j)));
            per = _mm256_and_pd(per, _mm256_cmp_pd(wv, zero, _CMP_NEQ_OQ));  /* an ignored row: 0 */
            if (jb->reduction == RED_NONE) {
                _mm_storeu_ps(out + i, _mm256_cvtpd_ps(_mm256_permute4x64_pd(per, 0xD8)));
            } else {  /* Neumaier's sum, per lane */
                __m256d t = _mm256_add_pd(sum, per);
                __m256d sum_big = _mm256_cmp_pd(_mm256_andnot_pd(sign, sum), _mm256_andnot_pd(sign, per), _CMP_GE_OQ);
                comp = _mm256_add_pd(comp, _mm256_blendv_pd(_mm256_add_pd(_mm256_sub_pd(per, t), sum),
                                                            _mm256_add_pd(_mm256_sub_pd(sum, t), per), sum_big));
                sum = t;
            }
            if (!grad) continue;
            __m256d inv = _mm256_loadu_pd(ib + j), sv = _mm256_loadu_pd(sb + j);
            __m256d q = _mm256_blendv_pd(inv, _mm256_mul_pd(sv, inv), _mm256_cmp_pd(d, zero, _CMP_EQ_OQ));
            __m256d gy = _mm256_mul_pd(_mm256_mul_pd(wv, inv_norm), q);  /* the label's is -gy, the other's +gy */
            __m256d g1 = _mm256_xor_pd(gy, _mm256_and_pd(y1, sign)), g0 = _mm256_xor_pd(gy, _mm256_andnot_pd(y1, sign));
            __m256d r01 = _mm256_unpacklo_pd(g0, g1), r23 = _mm256_unpackhi_pd(g0, g1);  /* rows 0, 1 / 2, 3 */
            _mm256_storeu_ps(grad + 2 * i, _mm256_set_m128(_mm256_cvtpd_ps(r23), _mm256_cvtpd_ps(r01)));
        }
    }
    if (_mm256_movemask_pd(ok) != 0xf) jb->bad = 1;
    double lanes[4], comps[4];
    _mm256_storeu_pd(lanes, sum);
    _mm256_storeu_pd(comps, comp);
    for (int r = 0; r < 4; ++r) {
        acc_add(&jb->total, lanes[r]);
        acc_add(&jb->total, comps[r]);
    }
    if (end < jb->hi) {  /* the last rows */
        job_t rest = *jb;
        rest.lo = end;
        rest.total.sum = rest.total.comp = 0.0;
        rows_float_avx2(&rest);
        acc_add(&jb->total, acc_value(&rest.total));
        jb->bad |= rest.bad;
        jb->failed |= rest.failed;
    }
}

static int simd_path(void) {
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return have;
}
#else
static int simd_path(void) { return 0; }
#endif

static int simd_off = 0;

/* Whether float32 rows without label smoothing run the AVX2 path here; wce_use_simd(0) turns it off (the tests
 * compare the two paths). */
int wce_simd(void) { return !simd_off && simd_path(); }

void wce_use_simd(int on) { simd_off = !on; }

typedef void (*work_fn)(void *);

typedef struct { work_fn fn; void *job; } task_t;

static void *run_task(void *arg) {
    task_t *t = (task_t *)arg;
    t->fn(t->job);
    return NULL;
}

#define MAX_THREADS 64

/* ---------------------------------------------------------------------------------------- the thread pool
 *
 * Workers started at the first parallel call and kept: each has a mailbox (a task and a sequence number); after a
 * task it spins for SPIN_NS for the next one (back-to-back calls then start in well under a microsecond, where
 * starting a thread, or waking an idle one, takes tens to hundreds), then sleeps on a condition variable. One
 * caller uses the pool at a time; a concurrent caller (another Python thread: ctypes releases the GIL) starts
 * threads of its own. A forked child starts with no workers. */
#define SPIN_NS 50000

typedef struct {
    pthread_t id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task_t task;
    unsigned seq, done;  /* written by the caller / the worker, read with __atomic loads */
} worker_t;

static worker_t workers[MAX_THREADS];
static int n_workers = 0;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

static void *worker_main(void *arg) {
    worker_t *w = (worker_t *)arg;
    unsigned seen = 0;
    for (;;) {
        double start = now_ns();
        for (int spins = 0; __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE) == seen; ++spins) {
            cpu_relax();
            if ((spins & 255) == 255 && now_ns() - start > SPIN_NS) {
                pthread_mutex_lock(&w->mu);
                while (__atomic_load_n(&w->seq, __ATOMIC_ACQUIRE) == seen) pthread_cond_wait(&w->cv, &w->mu);
                pthread_mutex_unlock(&w->mu);
            }
        }
        seen = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);
        w->task.fn(w->task.job);
        __atomic_store_n(&w->done, seen, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void pool_reset_in_child(void) {
    n_workers = 0;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pool_mu = fresh;
}

static void pool_init(void) { pthread_atfork(NULL, NULL, pool_reset_in_child); }

/* Workers 0 .. want - 1 started (fewer where a thread cannot start); returns how many there are. */
static int pool_grow(int want) {
    for (; n_workers < want; ++n_workers) {
        worker_t *w = &workers[n_workers];
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->seq = w->done = 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&w->id, &attr, worker_main, w) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
    }
    return n_workers;
}

/* fn on each of the jobs (size bytes apart): job 0 on this thread, the others on the pool's workers (on threads
 * of their own where the pool is busy, on this one where a thread cannot start). */
static void parallel(work_fn fn, char *jobs, size_t size, int threads) {
    pthread_once(&pool_once, pool_init);
    if (threads > 1 && pthread_mutex_trylock(&pool_mu) == 0) {
        int have = pool_grow(threads - 1);
        for (int t = 1; t <= have && t < threads; ++t) {
            worker_t *w = &workers[t - 1];
            w->task.fn = fn;
            w->task.job = jobs + size * (size_t)t;
            pthread_mutex_lock(&w->mu);
            __atomic_store_n(&w->seq, w->seq + 1, __ATOMIC_RELEASE);
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
        fn(jobs);
        for (int t = have + 1; t < threads; ++t) fn(jobs + size * (size_t)t);
        for (int t = 1; t <= have && t < threads; ++t) {
            worker_t *w = &workers[t - 1];
            while (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) != w->seq) cpu_relax();
        }
        pthread_mutex_unlock(&pool_mu);
        return;
    }
    task_t tasks[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int t = 1; t < threads; ++t) {
        tasks[t].fn = fn;
        tasks[t].job = jobs + size * (size_t)t;
        started[t] = pthread_create(&ids[t], NULL, run_task, &tasks[t]) == 0;
    }
    fn(jobs);
    for (int t = 1; t < threads; ++t) {
        if (started[t]) pthread_join(ids[t], NULL);
        else fn(jobs + size * (size_t)t);
    }
}

static int clamp_threads(int threads, int64_t rows) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if ((int64_t)threads > rows) threads = (int)(rows > 0 ? rows : 1);
    return threads;
}

/* The values the reference's check rejects among the labels and sample weights of rows [lo, hi), found before any
 * row is computed (the logits' are found in the rows): labels outside [0, C) that are not ignore_index, sample
 * weights that are negative or not finite (bad); and the part of the reduction's normaliser Z (the count or
 * the weight of the non-ignored rows; the product w_y s_i rounded to T as the reference rounds it, the sum in
 * double) in total. */
#define PREPASS_BLOCK 4096

#define DEFINE_PREPASS(T)                                                                                       \
static inline int prepass_row_##T(const job_t *jb, int64_t i, acc_t *acc) {                                   \
    const T *w = (const T *)jb->w, *sw = (const T *)jb->sw;                                                    \
    int64_t y = jb->y[i];                                                                                      \
    if (sw && !(isfinite(sw[i]) && sw[i] >= 0)) return 1;                                                      \
    if (jb->has_ignore && y == jb->ignore_index) return 0;                                                     \
    if (y < 0 || y >= jb->c) return 1;                                                                         \
    T r = (T)((w ? w[y] : (T)1) * (sw ? sw[i] : (T)1));                                                        \
    acc_add(acc, jb->reduction == RED_MEAN ? 1.0 : (double)r);                                                 \
    return 0;                                                                                                  \
}                                                                                                              \
static void prepass_##T(void *job) {  /* rows [lo, hi): whole blocks of PREPASS_BLOCK rows (the last may be   \
                                         shorter), each block's sum into parts: the same for any threads */    \
    job_t *jb = (job_t *)job;                                                                                  \
    for (int64_t b0 = jb->lo; b0 < jb->hi; b0 += PREPASS_BLOCK) {                                              \
        const int64_t end = jb->hi - b0 < PREPASS_BLOCK ? jb->hi : b0 + PREPASS_BLOCK;                          \
        acc_t a0 = {0.0, 0.0}, a1 = a0, a2 = a0, a3 = a0;  /* four chains of additions, not one */             \
        int64_t i = b0;                                                                                        \
        for (; i + 4 <= end; i += 4)                                                                           \
            if (prepass_row_##T(jb, i, &a0) | prepass_row_##T(jb, i + 1, &a1) | prepass_row_##T(jb, i + 2, &a2) \
                | prepass_row_##T(jb, i + 3, &a3)) { jb->bad = 1; return; }                                    \
        for (; i < end; ++i) if (prepass_row_##T(jb, i, &a0)) { jb->bad = 1; return; }                        \
        acc_add(&a0, acc_value(&a1));                                                                          \
        acc_add(&a0, acc_value(&a2));                                                                          \
        acc_add(&a0, acc_value(&a3));                                                                          \
        jb->parts[b0 / PREPASS_BLOCK] = a0;                                                                    \
    }                                                                                                          \
}
DEFINE_PREPASS(float)
DEFINE_PREPASS(double)

/* The whole loss: out[0] the reduced value (out[i] per row for reduction none), grad the gradient of the
 * reduced loss (of the sum of the rows for none), or NULL. f64 selects double logits (and weights of that dtype),
 * else float. Returns 0; 1 where a value is one the reference's check rejects (out and grad are then
 * meaningless: the caller runs the check for its message); -1 where a scratch row could not be allocated. */
int wce_softmax(int f64, const void *x, int64_t n, int64_t c, int64_t stride, const int64_t *y, const void *w,
                const void *sw, int has_ignore, int64_t ignore_index, double eps, int reduction, void *out,
                void *grad, int threads) {
    job_t base = {x, y, w, sw, n, c, stride, ignore_index, has_ignore, eps, (double)c, 1.0, reduction, out, grad,
                  0, n, {0.0, 0.0}, 0, 0, NULL};
    if (w && eps != 0.0) {
        acc_t wt = {0.0, 0.0};
        for (int64_t j = 0; j < c; ++j) acc_add(&wt, f64 ? ((const double *)w)[j] : ((const float *)w)[j]);
        base.w_total = acc_value(&wt);
    }
    for (int64_t j = 0; w && j < c; ++j) {  /* class weights: finite and non-negative */
        double v = f64 ? ((const double *)w)[j] : ((const float *)w)[j];
        if (!(v >= 0.0 && v <= DBL_MAX)) return 1;
    }
    const int64_t blocks = (n + PREPASS_BLOCK - 1) / PREPASS_BLOCK;
    acc_t *parts = (acc_t *)calloc((size_t)(blocks > 0 ? blocks : 1), sizeof(acc_t));
    if (!parts) return -1;
    int pthreads = clamp_threads(threads, blocks);
    job_t jobs[MAX_THREADS];
    for (int t = 0; t < pthreads; ++t) {  /* the prepass over whole blocks */
        jobs[t] = base;
        jobs[t].parts = parts;
        jobs[t].lo = blocks * t / pthreads * PREPASS_BLOCK;
        jobs[t].hi = t + 1 == pthreads ? n : blocks * (t + 1) / pthreads * PREPASS_BLOCK;
    }
    parallel(f64 ? prepass_double : prepass_float, (char *)jobs, sizeof(job_t), pthreads);
    int bad = 0;
    for (int t = 0; t < pthreads; ++t) bad |= jobs[t].bad;
    acc_t zsum = {0.0, 0.0};
    for (int64_t b = 0; b < blocks && !bad; ++b) acc_add(&zsum, acc_value(&parts[b]));
    free(parts);
    double z = reduction == RED_NONE || reduction == RED_SUM ? 1.0 : acc_value(&zsum);
    if (bad || (z == 0.0 && n > 0)) return 1;
    base.inv_norm = 1.0 / z;
    threads = clamp_threads(threads, n);
    for (int t = 0; t < threads; ++t) {
        jobs[t] = base;
        jobs[t].lo = n * t / threads;
        jobs[t].hi = n * (t + 1) / threads;
    }
    work_fn fn = f64 ? rows_double : rows_float;
#ifdef WCE_AVX2
    if (!f64 && eps == 0.0 && wce_simd()) fn = c == 2 && stride == 2 ? rows_float_c2 : rows_float_avx2;
#endif
    parallel(fn, (char *)jobs, sizeof(job_t), threads);
    int rc = 0;
    for (int t = 0; t < threads; ++t) {
        if (jobs[t].failed) return -1;
        if (jobs[t].bad) rc = 1;
    }
    if (reduction != RED_NONE) {
        acc_t total = {0.0, 0.0};
        for (int t = 0; t < threads; ++t) acc_add(&total, acc_value(&jobs[t].total));
        double v = acc_value(&total) / z;
        if (f64) *(double *)out = v; else *(float *)out = (float)v;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ sigmoid_wce
 *
 * Per element (x, t) with the weights w+ and w- of its column j (the last axis, k columns):
 *
 *   l = w+ t softplus(-x) + w- (1 - t) softplus(x),   g = w- (1 - t) sigma(x) - w+ t sigma(-x),
 *
 * softplus(+-x) = max(+-x, 0) + log(1 + exp(-|x|)), sums of non-negative terms (the reference's softplus_pair),
 * times the sample weight; the mean divides by the number of elements. The same values as the reference's
 * check are rejected: non-finite logits, targets outside [0, 1], negative or non-finite weights. */

/* log(1 + z) for z in [0, 1] to float precision, within 3 ULP, vectorisable: u = 1 + z = 2^e m with m in
 * [sqrt(1/2), sqrt(2)), Cephes' logf polynomial for log(m), and Goldberg's factor z / (u - 1) for the rounding of
 * u. (glibc's log1p is a call per element, several times the cost of the rest of the sigmoid loss.) */
static inline float log1p_unit_f(float z) {
    float u = 1.0f + z;
    int big = u > 1.41421356237f;
    float f = (big ? u * 0.5f : u) - 1.0f, e = big ? 1.0f : 0.0f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float f2 = f * f;
    float y = (f * f2 * p + e * -2.12194440e-4f) - 0.5f * f2 + f + e * 0.693359375f;
    return u == 1.0f ? z : y * (z / (u - 1.0f));
}

static inline double log1p_unit_fd(double z) { return (double)log1p_unit_f((float)z); }

typedef struct {
    const void *x, *t, *wp, *wn, *sw;
    int64_t k, n, lo, hi;  /* chunks [lo, hi) of k elements (the last may be shorter), n elements in all */
    int reduction;
    double scale;
    void *out, *grad;
    acc_t total;
    int bad, failed;
} CACHE_ALIGNED sjob_t;

/* One row of k elements, branch-free (vectorised; restrict: no aliasing checks at run time): the element values
 * into v, the gradient into g; returns whether a value is one the reference's check rejects. */
#define DEFINE_SIGMOID_ROW(T, EXP, LOG1P)                                                                       \
static inline int sigmoid_row_##T(const T *restrict x, const T *restrict t, const T *restrict s,               \
                                  const T *restrict wp, const T *restrict wn, T *restrict v, T *restrict g,     \
                                  int64_t k, double scale) {                                                   \
    int bad = 0;                                                                                               \
    for (int64_t j = 0; j < k; ++j) {                                                                          \
        double xi = (double)x[j], ti = (double)t[j], si = (double)s[j];                                        \
        bad |= !(xi >= -DBL_MAX && xi <= DBL_MAX && ti >= 0.0 && ti <= 1.0 && si >= 0.0 && si <= DBL_MAX);     \
        double ax = fabs(xi), z = (double)EXP(-ax), l = LOG1P(z);                                              \
        double pos = (double)wp[j] * ti, neg = (double)wn[j] * (1.0 - ti);                                     \
        double m = xi > 0.0 ? xi : 0.0;                                                                        \
        v[j] = (T)(si * (pos * ((m - xi) + l) + neg * (m + l)));                                               \
        double inv = 1.0 / (1.0 + z), small = z * inv;                                                         \
        double sig = xi >= 0.0 ? inv : small, sig_neg = xi >= 0.0 ? small : inv;                               \
        g[j] = (T)(scale * si * (neg * sig - pos * sig_neg));                                                  \
    }                                                                                                          \
    return bad;                                                                                                \
}

/* Rows [lo, hi): the element values go into out (none) or a scratch row summed after, the gradient into grad or
 * G_NONE where none is wanted (a scratch row, or NULL for a ROW that then skips it); a row of ones stands for
 * absent sample weights. */
#define DEFINE_SIGMOID_JOB(ATTR, NAME, T, ROW, G_NONE)                                                           \
ATTR static void NAME(void *job) {                                                                             \
    sjob_t *jb = (sjob_t *)job;                                                                                \
    const T *x = (const T *)jb->x, *t = (const T *)jb->t, *wp = (const T *)jb->wp, *wn = (const T *)jb->wn;    \
    const T *sw = (const T *)jb->sw;                                                                           \
    const int64_t k = jb->k;                                                                                   \
    const int none = jb->reduction == RED_NONE;                                                                \
    T *scratch = (T *)malloc(sizeof(T) * 3 * (size_t)k);  /* values, gradient, ones */                         \
    if (!scratch) { jb->failed = 1; return; }                                                                  \
    for (int64_t j = 0; j < k; ++j) scratch[2 * k + j] = 1;                                                    \
    int bad = 0;                                                                                               \
    for (int64_t r = jb->lo; r < jb->hi; ++r) {                                                                \
        int64_t off = r * k, len = jb->n - off < k ? jb->n - off : k;                                          \
        T *v = none ? (T *)jb->out + off : scratch;                                                            \
        T *g = jb->grad ? (T *)jb->grad + off : G_NONE;                                                        \
        bad |= ROW(x + off, t + off, sw ? sw + off : scratch + 2 * k, wp, wn, v, g, len, jb->scale);            \
        if (!none) acc_add(&jb->total, row_sum_##T(v, len));                                                   \
    }                                                                                                          \
    jb->bad = bad;                                                                                             \
    free(scratch);                                                                                             \
}

/* The row function and the job of one dtype. */
#define DEFINE_SIGMOID(T, EXP, LOG1P)                                                                           \
DEFINE_SIGMOID_ROW(T, EXP, LOG1P)                                                                              \
DEFINE_SIGMOID_JOB(MULTIVERSION, sigmoid_##T, T, sigmoid_row_##T, scratch + k)

DEFINE_SIGMOID(float, exp_neg_f, log1p_unit_fd)
DEFINE_SIGMOID(double, exp_neg_d, log1p_pos)

#ifdef WCE_AVX2
/* log(1 + z) for eight z in [0, 1]: log1p_unit_f's arithmetic. */
AVX2_FN static inline __m256 log1p8_unit(__m256 z) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 u = _mm256_add_ps(one, z);
    __m256 big = _mm256_cmp_ps(u, _mm256_set1_ps(1.41421356237f), _CMP_GT_OQ);
    __m256 f = _mm256_sub_ps(_mm256_blendv_ps(u, _mm256_mul_ps(u, _mm256_set1_ps(0.5f)), big), one);
    __m256 e = _mm256_and_ps(big, one);
    static const float c[8] = {-1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f, 1.4249322787e-1f,
                               -1.6668057665e-1f, 2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f};
    __m256 p = _mm256_set1_ps(7.0376836292e-2f);
    for (int k = 0; k < 8; ++k) p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c[k]));
    __m256 f2 = _mm256_mul_ps(f, f);
    __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(f, f2), p, _mm256_mul_ps(e, _mm256_set1_ps(-2.12194440e-4f)));
    y = _mm256_add_ps(_mm256_add_ps(_mm256_fnmadd_ps(_mm256_set1_ps(0.5f), f2, y), f),
                      _mm256_mul_ps(e, _mm256_set1_ps(0.693359375f)));
    __m256 um1 = _mm256_sub_ps(u, one);
    __m256 r = _mm256_mul_ps(y, _mm256_div_ps(z, _mm256_max_ps(um1, _mm256_set1_ps(FLT_MIN))));
    return _mm256_blendv_ps(r, z, _mm256_cmp_ps(um1, _mm256_setzero_ps(), _CMP_EQ_OQ));
}

/* Four of sigmoid_row's elements in double from their float inputs and exp(-|x|), log1p(exp(-|x|)), 1 / (1 +
 * exp(-|x|)): the value into *v, the gradient into *g where g is not NULL. */
AVX2_FN static inline void sigmoid_half4(__m128 x4, __m128 t4, __m128 s4, __m128 wp4, __m128 wn4, __m128 l4,
                                         __m128 sig4, __m128 sig_neg4, __m256d scale, __m128 *v, __m128 *g) {
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d x = _mm256_cvtps_pd(x4), t = _mm256_cvtps_pd(t4), si = _mm256_cvtps_pd(s4), l = _mm256_cvtps_pd(l4);
    __m256d pos = _mm256_mul_pd(_mm256_cvtps_pd(wp4), t);
    __m256d neg = _mm256_mul_pd(_mm256_cvtps_pd(wn4), _mm256_sub_pd(one, t));
    __m256d m = _mm256_max_pd(x, _mm256_setzero_pd());
    __m256d val = _mm256_fmadd_pd(pos, _mm256_add_pd(_mm256_sub_pd(m, x), l), _mm256_mul_pd(neg, _mm256_add_pd(m, l)));
    *v = _mm256_cvtpd_ps(_mm256_mul_pd(si, val));
    if (!g) return;
    __m256d d = _mm256_fmsub_pd(neg, _mm256_cvtps_pd(sig4), _mm256_mul_pd(pos, _mm256_cvtps_pd(sig_neg4)));
    *g = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(scale, si), d));
}

#define SIGMOID_BLOCK 64

/* sigmoid_row_float with AVX2, eight elements per instruction (the last k % 8 by sigmoid_row_float), in blocks of
 * SIGMOID_BLOCK elements passed over three times (the checks and exp(-|x|); log1p and 1 / (1 + exp(-|x|)); the
 * value and gradient; g NULL: no gradient): each pass's steps are independent, where one pass would be a chain of
 * ~100 cycles. */
AVX2_FN static int sigmoid_row_avx2(const float *restrict x, const float *restrict t, const float *restrict s,
                                    const float *restrict wp, const float *restrict wn, float *restrict v,
                                    float *restrict g, int64_t k, double scale) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), fmax = _mm256_set1_ps(FLT_MAX);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256d sc = _mm256_set1_pd(scale);
    __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    float zb[SIGMOID_BLOCK], lb[SIGMOID_BLOCK], ib[SIGMOID_BLOCK];
    const int64_t full = k - k % 8;
    for (int64_t b0 = 0; b0 < full; b0 += SIGMOID_BLOCK) {
        const int64_t len = full - b0 < SIGMOID_BLOCK ? full - b0 : SIGMOID_BLOCK;
        for (int64_t j = 0; j < len; j += 8) {
            __m256 xv = _mm256_loadu_ps(x + b0 + j), tv = _mm256_loadu_ps(t + b0 + j), sv = _mm256_loadu_ps(s + b0 + j);
            __m256 ax = _mm256_andnot_ps(sign, xv);
            __m256 c1 = _mm256_and_ps(_mm256_cmp_ps(tv, zero, _CMP_GE_OQ), _mm256_cmp_ps(tv, one, _CMP_LE_OQ));
            __m256 c2 = _mm256_and_ps(_mm256_cmp_ps(sv, zero, _CMP_GE_OQ), _mm256_cmp_ps(sv, fmax, _CMP_LE_OQ));
            ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(ax, fmax, _CMP_LE_OQ), _mm256_and_ps(c1, c2)));
            _mm256_storeu_ps(zb + j, exp8_neg(_mm256_xor_ps(ax, sign), zero));
        }
        for (int64_t j = 0; j < len; j += 8) {
            __m256 z = _mm256_loadu_ps(zb + j);
            _mm256_storeu_ps(lb + j, log1p8_unit(z));
            if (g) _mm256_storeu_ps(ib + j, _mm256_div_ps(one, _mm256_add_ps(one, z)));
        }
        for (int64_t j = 0; j < len; j += 8) {
            const int64_t o = b0 + j;
            __m256 xv = _mm256_loadu_ps(x + o), tv = _mm256_loadu_ps(t + o), sv = _mm256_loadu_ps(s + o);
            __m256 l = _mm256_loadu_ps(lb + j), sig = zero, sig_neg = zero;
            if (g) {
                __m256 inv = _mm256_loadu_ps(ib + j), small = _mm256_mul_ps(_mm256_loadu_ps(zb + j), inv);
                __m256 nonneg = _mm256_cmp_ps(xv, zero, _CMP_GE_OQ);
                sig = _mm256_blendv_ps(small, inv, nonneg), sig_neg = _mm256_blendv_ps(inv, small, nonneg);
            }
            __m256 wpv = _mm256_loadu_ps(wp + o), wnv = _mm256_loadu_ps(wn + o);
            __m128 v0, v1, g0, g1;
#define LO(a) _mm256_castps256_ps128(a)
#define HI(a) _mm256_extractf128_ps(a, 1)
            sigmoid_half4(LO(xv), LO(tv), LO(sv), LO(wpv), LO(wnv), LO(l), LO(sig), LO(sig_neg), sc, &v0,
                          g ? &g0 : NULL);
            sigmoid_half4(HI(xv), HI(tv), HI(sv), HI(wpv), HI(wnv), HI(l), HI(sig), HI(sig_neg), sc, &v1,
                          g ? &g1 : NULL);
#undef LO
#undef HI
            _mm256_storeu_ps(v + o, _mm256_set_m128(v1, v0));
            if (g) _mm256_storeu_ps(g + o, _mm256_set_m128(g1, g0));
        }
    }
    int bad = _mm256_movemask_ps(ok) != 0xff;
    float gt[8];  /* the tail's gradient where none is wanted */
    if (full < k) bad |= sigmoid_row_float(x + full, t + full, s + full, wp + full, wn + full, v + full,
                                           g ? g + full : gt, k - full, scale);
    return bad;
}

/* sigmoid_float with the AVX2 rows (no gradient work where none is wanted). */
DEFINE_SIGMOID_JOB(AVX2_FN, sigmoid_float_avx2, float, sigmoid_row_avx2, NULL)
#endif

#define SIGMOID_CHUNK 256

/* The whole loss over rows x k elements: out[0] the sum or mean (out[i] per element for none); grad the
 * gradient of it (of the sum for none), or NULL. wp and wn: k weights each. Returns 0; 1 where a value is one
 * the reference's check rejects; -1 where a scratch row could not be allocated. */
int wce_sigmoid(int f64, const void *x, const void *t, int64_t rows, int64_t k, const void *wp, const void *wn,
                const void *sw, int reduction, void *out, void *grad, int threads) {
    for (int64_t j = 0; j < k; ++j) {
        double a = f64 ? ((const double *)wp)[j] : ((const float *)wp)[j];
        double b = f64 ? ((const double *)wn)[j] : ((const float *)wn)[j];
        if (!(a >= 0.0 && a <= DBL_MAX && b >= 0.0 && b <= DBL_MAX)) return 1;
    }
    int64_t n = rows * k, p = k;
    double scale = reduction == RED_MEAN && n > 0 ? 1.0 / (double)n : 1.0;
    char *rep = NULL;  /* narrow rows (few columns): chunks of p = m k elements, the weights repeated m times */
    if (k < SIGMOID_CHUNK && n > k) {
        size_t size = f64 ? sizeof(double) : sizeof(float);
        p = k * ((SIGMOID_CHUNK + k - 1) / k);
        rep = (char *)malloc(2 * size * (size_t)p);
        if (!rep) return -1;
        for (int64_t i = 0; i < p; ++i) {
            memcpy(rep + size * (size_t)i, (const char *)wp + size * (size_t)(i % k), size);
            memcpy(rep + size * (size_t)(p + i), (const char *)wn + size * (size_t)(i % k), size);
        }
        wp = rep;
        wn = rep + size * (size_t)p;
    }
    int64_t chunks = (n + p - 1) / p;
    threads = clamp_threads(threads, chunks);
    sjob_t jobs[MAX_THREADS];
    for (int i = 0; i < threads; ++i) {
        sjob_t jb = {x, t, wp, wn, sw, p, n, chunks * i / threads, chunks * (i + 1) / threads, reduction, scale,
                     out, grad, {0.0, 0.0}, 0, 0};
        jobs[i] = jb;
    }
    work_fn fn = f64 ? sigmoid_double : sigmoid_float;
#ifdef WCE_AVX2
    if (!f64 && wce_simd()) fn = sigmoid_float_avx2;
#endif
    parallel(fn, (char *)jobs, sizeof(sjob_t), threads);
    free(rep);
    acc_t total = {0.0, 0.0};
    for (int i = 0; i < threads; ++i) {
        if (jobs[i].failed) return -1;
        if (jobs[i].bad) return 1;
        acc_add(&total, acc_value(&jobs[i].total));
    }
    if (reduction != RED_NONE) {
        double v = reduction == RED_MEAN && n > 0 ? acc_value(&total) / (double)n : acc_value(&total);
        if (f64) *(double *)out = v; else *(float *)out = (float)v;
    }
    return 0;
}
