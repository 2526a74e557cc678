/* Per-thread scratch buffers that only ever grow.
   A fresh multi-megabyte malloc per call is a fresh mmap whose page faults cost as much as the
   whole im2col of a 4x4 or 8x8 layer; per thread, because Swift may run kernels from several
   threads at once. They are mapped directly rather than malloc'ed: once glibc's adaptive threshold
   has moved, a malloc'ed buffer lands in the heap, and sgemm on it measured up to 20% slower. */
#include "workspace.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define SLOTS 8

typedef struct {
    float *p[SLOTS];
    long cap[SLOTS];
} workspaces;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void release(void *v) {
    workspaces *ws = v;
    for (int i = 0; i < SLOTS; i++)
        if (ws->p[i] != NULL) munmap(ws->p[i], (size_t)ws->cap[i] * sizeof(float));
    free(ws);
}

static void make_key(void) { pthread_key_create(&key, release); }

float *ck_workspace(int slot, long n) {
    if (slot < 0 || slot >= SLOTS) return NULL;
    pthread_once(&once, make_key);
    workspaces *ws = pthread_getspecific(key);
    if (ws == NULL) {
        ws = calloc(1, sizeof *ws);
        if (ws == NULL) return NULL;
        pthread_setspecific(key, ws);
    }
    if (ws->cap[slot] < n || ws->p[slot] == NULL) {
        if (ws->p[slot] != NULL) munmap(ws->p[slot], (size_t)ws->cap[slot] * sizeof(float));
        long cap = (n + 1023) & ~1023L; /* whole pages */
        if (cap < 1024) cap = 1024;
        void *p = mmap(NULL, (size_t)cap * sizeof(float), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ws->p[slot] = p == MAP_FAILED ? NULL : p;
        ws->cap[slot] = p == MAP_FAILED ? 0 : cap;
    }
    return ws->p[slot];
}
