/* Philox 4x32-10 counter-based random numbers (Salmon et al. 2011, Random123). Element i of a
   draw is a pure function of (key, stream, step, i): the same numbers on any thread count, and any
   slice of a long draw can be regenerated without the rest. */
#pragma once
#include <stdint.h>

/* One block: ctr (4 words) and key (2 words) -> out (4 words). */
void philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);
/* out[i] for i in [0, n): element (offset + i) of the stream. Block b = element / 4 uses counter
   (b low, b high, stream, step) and key (seed low, seed high). */
void philox_uniform(float *out, long n, uint64_t seed, uint32_t stream, uint32_t step, long offset);
/* Standard normals by Box-Muller on pairs of words: element e uses block e / 4. */
void philox_normal(float *out, long n, uint64_t seed, uint32_t stream, uint32_t step, long offset);
