/* collective.h over Open MPI (STYLEGAN_WITH_MPI) or as the single-process group. See the header. */
#include "collective.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The group size a launcher announced in the environment (Open MPI, MPICH / PMI), 0 if none. */
static long launcher_size(const char **var) {
    static const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) {
            *var = names[i];
            return strtol(v, NULL, 10);
        }
    }
    return 0;
}

#ifdef STYLEGAN_WITH_MPI
#include <limits.h>
#include <mpi.h>

static int active = 0, world_rank = 0, world_size = 1;

/* MPI counts are ints: long buffers go in pieces. */
#define CHUNK (1L << 30)

int sgm_has_mpi(void) { return 1; }

int sgm_init(char *err, long err_len) {
    const char *var = NULL;
    /* Without a launcher stay a plain process: no MPI_Init, so the binary behaves exactly as a
       build without MPI does (and a test process never starts an Open MPI singleton). */
    if (launcher_size(&var) < 1 || active) return 0;
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        snprintf(err, (size_t)err_len, "MPI_Init failed");
        return 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    active = 1;
    return 0;
}

int sgm_rank(void) { return world_rank; }
int sgm_size(void) { return world_size; }

void sgm_allreduce_sum_f32(float *buf, long n) {
    if (!active || world_size == 1) return;
    for (long off = 0; off < n; off += CHUNK) {
        long len = n - off < CHUNK ? n - off : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

void sgm_allreduce_f64(double *buf, long n, int op) {
    if (!active || world_size == 1) return;
    MPI_Op o = op == SGM_MAX ? MPI_MAX : op == SGM_MIN ? MPI_MIN : MPI_SUM;
    for (long off = 0; off < n; off += CHUNK) {
        long len = n - off < CHUNK ? n - off : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_DOUBLE, o, MPI_COMM_WORLD);
    }
}

void sgm_broadcast(void *buf, long n, int root) {
    if (!active || world_size == 1) return;
    for (long off = 0; off < n; off += CHUNK) {
        long len = n - off < CHUNK ? n - off : CHUNK;
        MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void sgm_barrier(void) {
    if (active) MPI_Barrier(MPI_COMM_WORLD);
}

void sgm_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    if (active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void sgm_finalize(void) {
    int done = 0;
    if (!active) return;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
    active = 0;
}

#else /* the single-process group */

int sgm_has_mpi(void) { return 0; }

int sgm_init(char *err, long err_len) {
    const char *var = NULL;
    long n = launcher_size(&var);
    if (n > 1) {
        /* Each of the n copies would train alone on the full batch and write the same files. */
        snprintf(err, (size_t)err_len,
                 "started as one of %ld processes (%s=%ld), but this stylegan was built without MPI; "
                 "rebuild with `STYLEGAN_MPI=1 swift build -c release` (see the README) or run it without mpirun",
                 n, var, n);
        return 1;
    }
    return 0;
}

int sgm_rank(void) { return 0; }
int sgm_size(void) { return 1; }
void sgm_allreduce_sum_f32(float *buf, long n) { (void)buf; (void)n; }
void sgm_allreduce_f64(double *buf, long n, int op) { (void)buf; (void)n; (void)op; }
void sgm_broadcast(void *buf, long n, int root) { (void)buf; (void)n; (void)root; }
void sgm_barrier(void) {}
void sgm_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    exit(code);
}
void sgm_finalize(void) {}

#endif
