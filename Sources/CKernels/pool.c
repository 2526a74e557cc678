/* A cache of large tensor buffers, by exact size.
   A training step or a forward pass allocates the same activation sizes over and over; each fresh
   multi-megabyte buffer is a fresh mmap whose pages the kernel zeroes on first touch (clear_page:
   9% of generation at 256 px, 4% of a training step at 8 px). Freed buffers of 256 KB and up are
   kept in lists by size and handed out again. The cache holds at most 1 GB (CK_BUFFER_CACHE_MB) (past it a
   freed buffer is released), so sizes that stop being used, e.g. after a resolution change, cost
   at most that much. Small buffers go to malloc, which already recycles them. Thread-safe: Swift may free tensors on any thread. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#define MIN_POOLED (256u << 10)
#define BUCKETS 1024 /* open addressing on the size; sizes in use at once are far fewer */
#define PER_BUCKET 64

/* Bytes the cache may hold: CK_BUFFER_CACHE_MB from the environment (0 turns it off), else 1 GB. */
static size_t cache_limit(void) {
    static size_t limit = (size_t)-1;
    if (limit == (size_t)-1) {
        const char *e = getenv("CK_BUFFER_CACHE_MB");
        limit = e ? (size_t)strtoull(e, NULL, 10) << 20 : (size_t)1 << 30;
    }
    return limit;
}

typedef struct {
    size_t bytes; /* 0: empty slot */
    int n;
    void *free[PER_BUCKET];
} bucket;

static bucket table[BUCKETS];
static size_t cached = 0;
/* Bytes handed out and not yet given back, and the most at once: the tensors' own footprint,
   apart from what the cache and malloc keep (the benchmark reports it beside peak RSS). Counted
   per thread, so that tests running side by side each see their own: a model's tensors are
   created and released on the thread that runs it. */
static _Thread_local long live = 0, live_peak = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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

void *ck_buffer_alloc(size_t bytes) {
    size_t r = rounded(bytes > 0 ? bytes : 64);
    if (r < MIN_POOLED) return aligned_alloc(64, r);
    pthread_mutex_lock(&lock);
    bucket *b = find(r, 0);
    void *p = (b && b->n > 0) ? b->free[--b->n] : NULL;
    if (p) cached -= r;
    pthread_mutex_unlock(&lock);
    if (p == NULL) p = aligned_alloc(64, r);
    if (p) {
        live += (long)r;
        if (live > live_peak) live_peak = live;
    }
    return p;
}

void ck_buffer_free(void *p, size_t bytes) {
    if (p == NULL) return;
    size_t r = rounded(bytes > 0 ? bytes : 64);
    if (r >= MIN_POOLED) {
        live -= (long)r;
        pthread_mutex_lock(&lock);
        bucket *b = cached + r <= cache_limit() ? find(r, 1) : NULL;
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

size_t ck_buffer_cached_bytes(void) {
    pthread_mutex_lock(&lock);
    size_t c = cached;
    pthread_mutex_unlock(&lock);
    return c;
}

long ck_buffer_live_bytes(int peak, int reset_peak) {
    long v = peak ? live_peak : live;
    if (reset_peak) live_peak = live;
    return v;
}
