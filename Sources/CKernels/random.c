/* Philox 4x32-10 and the uniform / normal draws built on it (see random.h for why counter-based). */
#include "random.h"
#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
        k0 += PHILOX_W0; k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static inline void block(uint32_t out[4], uint64_t seed, uint32_t stream, uint32_t step, uint64_t b) {
    const uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), stream, step};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    philox4x32_10(out, ctr, key);
}

/* 24 high bits -> [0, 1) exactly representable in float. */
static inline float to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

void philox_uniform(float *out, long n, uint64_t seed, uint32_t stream, uint32_t step, long offset) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (long i = 0; i < n; i++) {
        uint64_t e = (uint64_t)(offset + i);
        uint32_t w[4];
        block(w, seed, stream, step, e >> 2);
        out[i] = to_unit(w[e & 3]);
    }
}

void philox_normal(float *out, long n, uint64_t seed, uint32_t stream, uint32_t step, long offset) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (long i = 0; i < n; i++) {
        uint64_t e = (uint64_t)(offset + i);
        uint32_t w[4];
        block(w, seed, stream, step, e >> 2);
        /* Words (0,1) and (2,3) are Box-Muller pairs; u1 in (0, 1] so the log is finite. */
        int pair = (int)(e & 2);
        double u1 = ((double)(w[pair] >> 8) + 1.0) * (1.0 / 16777216.0);
        double u2 = (double)(w[pair + 1] >> 8) * (1.0 / 16777216.0);
        double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
        out[i] = (float)((e & 1) ? r * sin(t) : r * cos(t));
    }
}
