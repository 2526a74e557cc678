/* A cache of large tensor buffers, by exact size.
   A training step or a forward pass allocates the same activation sizes over and over; each fresh
   multi-megabyte buffer is a fresh mmap whose pages the kernel zeroes on first touch (clear_page
   and page faults were 28% of generating 16 images at 256 px with a fixed 1 GB cache). Freed
   buffers of 256 KB and up are kept in lists by size and handed out again.
   How much is kept: the footprint (bytes in use + cached) stays within the most bytes ever in use
   at once plus a headroom, 1 GB or CK_BUFFER_CACHE_MB (0 turns the cache off). Freeing keeps the
   footprint as it is; a request the cache cannot serve first releases cached buffers of other
   sizes until the new buffer fits. The headroom is there because a loop reuses the union of its
   sizes, which is more than its peak: generating at 256 px, the 64, 128 and 256 px activations
   are never live together, and without headroom each batch evicted the others' buffers and
   faulted them in again (2.6M page faults a batch of 16; with 1 GB, none after the first).
   Sizes that stop being used (a resolution change) are released as new ones are needed. Small
   buffers go to malloc, which already recycles them.
   Thread-safe: Swift may free tensors on any thread. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#define MIN_POOLED (256u << 10)
#define BUCKETS 1024 /* open addressing on the size; sizes in use at once are far fewer */
#define PER_BUCKET 64
#define EVICT_BATCH 64

/* How far the footprint may exceed the peak in use: CK_BUFFER_CACHE_MB, else 1 GB. */
static size_t headroom(void) {
    static size_t h = 0;
    static int parsed = 0;
    if (!parsed) {
        const char *e = getenv("CK_BUFFER_CACHE_MB");
        h = e ? (size_t)strtoull(e, NULL, 10) << 20 : (size_t)1 << 30;
        parsed = 1;
    }
    return h;
}

typedef struct {
    size_t bytes; /* 0: empty slot */
    int n;
    void *free[PER_BUCKET];
} bucket;

static bucket table[BUCKETS];
/* Under `lock`: bytes cached, bytes handed out (all threads) and the most handed out at once. */
static size_t cached = 0, in_use = 0, in_use_peak = 0;
static int evict_from = 0; /* where the next eviction scan starts, so no one size is always hit */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The same count per thread, for tests that run side by side and for the benchmark: a model's
   tensors are created and released on the thread that runs it. */
static _Thread_local long live = 0, live_peak = 0;

static size_t rounded(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* The bucket for `bytes`, or an empty one to claim (create = 1); NULL if none. */
static bucket *find(size_t bytes, int create) {
    size_t h = (bytes / 64) * 0x9E3779B97F4A7C15ull >> 54; /* 10 bits */
    for (int probe = 0; probe < BUCKETS; probe++) {
        bucket *b = &table[(h + probe) % BUCKETS];
        if (b->bytes == bytes) return b;
        if (b->bytes == 0) {
            if (!create) return NULL;
            b->bytes = bytes;
            return b;
        }
    }
    return NULL;
}

/* Takes up to `max` cached buffers out while the footprint exceeds the peak in use plus the
   headroom; returns how many were put in `out`. Under `lock`. */
static int evict(void **out, int max) {
    int k = 0;
    for (int i = 0; i < BUCKETS && k < max && in_use + cached > in_use_peak + headroom(); i++) {
        bucket *b = &table[(evict_from + i) % BUCKETS];
        while (b->n > 0 && k < max && in_use + cached > in_use_peak + headroom()) {
            out[k++] = b->free[--b->n];
            cached -= b->bytes;
        }
    }
    evict_from = (evict_from + 1) % BUCKETS;
    return k;
}

/* Releases cached buffers until the footprint is within the peak plus the headroom again (the
   frees happen outside the lock). */
static void release_excess(void) {
    void *out[EVICT_BATCH];
    int k;
    do {
        pthread_mutex_lock(&lock);
        k = evict(out, EVICT_BATCH);
        pthread_mutex_unlock(&lock);
        for (int i = 0; i < k; i++) free(out[i]);
    } while (k == EVICT_BATCH);
}

void *ck_buffer_alloc(size_t bytes) {
    size_t r = rounded(bytes > 0 ? bytes : 64);
    if (r < MIN_POOLED) return aligned_alloc(64, r);
    pthread_mutex_lock(&lock);
    bucket *b = find(r, 0);
    void *p = (b && b->n > 0) ? b->free[--b->n] : NULL;
    if (p) cached -= r; /* a hit moves bytes from cached to in use: the footprint stays */
    in_use += r;
    if (in_use > in_use_peak) in_use_peak = in_use;
    pthread_mutex_unlock(&lock);
    if (p == NULL) {
        /* A new buffer grows the footprint by r: make room first, so the freed pages go back
           before new ones are faulted in. */
        release_excess();
        p = aligned_alloc(64, r);
        if (p == NULL) {
            pthread_mutex_lock(&lock);
            in_use -= r;
            pthread_mutex_unlock(&lock);
            return NULL;
        }
    }
    live += (long)r;
    if (live > live_peak) live_peak = live;
    return p;
}

void ck_buffer_free(void *p, size_t bytes) {
    if (p == NULL) return;
    size_t r = rounded(bytes > 0 ? bytes : 64);
    if (r >= MIN_POOLED) {
        live -= (long)r;
        pthread_mutex_lock(&lock);
        in_use -= r;
        bucket *b = headroom() > 0 ? find(r, 1) : NULL;
        int kept = b && b->n < PER_BUCKET;
        if (kept) {
            b->free[b->n++] = p;
            cached += r;
        }
        pthread_mutex_unlock(&lock);
        if (kept) return;
    }
    free(p);
}

void ck_buffer_footprint(size_t *in_use_now, size_t *cached_now, size_t *peak, size_t *allowed) {
    pthread_mutex_lock(&lock);
    *in_use_now = in_use;
    *cached_now = cached;
    *peak = in_use_peak;
    *allowed = in_use_peak + headroom();
    pthread_mutex_unlock(&lock);
}

long ck_buffer_live_bytes(int peak, int reset_peak) {
    long v = peak ? live_peak : live;
    if (reset_peak) live_peak = live;
    return v;
}
