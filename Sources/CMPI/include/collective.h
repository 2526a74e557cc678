/* The few collectives that data-parallel training needs, behind plain C functions so that Swift
   never sees MPI's macros (MPI_COMM_WORLD, MPI_FLOAT, ... do not import into Swift).
   Built with -DSTYLEGAN_WITH_MPI they call Open MPI over MPI_COMM_WORLD; built without, they are
   the single-process group (size 1, rank 0, reductions leave buffers as they are), which is the
   exact meaning of these calls for one process. */
#pragma once

#define SGM_SUM 0
#define SGM_MAX 1
#define SGM_MIN 2

/* 1 if this build talks MPI, 0 if it is single-process only. */
int sgm_has_mpi(void);
/* Joins the process group that a launcher (mpirun) started. Returns 0, or nonzero with a message
   in err (e.g. a build without MPI started as one of several ranks). A process that no launcher
   started stays a group of one and MPI is not initialised. */
int sgm_init(char *err, long err_len);
int sgm_rank(void);
int sgm_size(void);
/* buf[0..n) = the sum of every rank's buf, on every rank (the same bits everywhere). */
void sgm_allreduce_sum_f32(float *buf, long n);
/* buf[0..n) = op (SGM_SUM / SGM_MAX / SGM_MIN) over ranks, elementwise. */
void sgm_allreduce_f64(double *buf, long n, int op);
/* bytes [0, n) of root's buf copied to every rank's buf. */
void sgm_broadcast(void *buf, long n, int root);
void sgm_barrier(void);
/* Ends every rank of the group with `code` (a lone process just exits). */
void sgm_abort(int code);
void sgm_finalize(void);
