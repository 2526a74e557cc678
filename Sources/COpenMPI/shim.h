/* Open MPI's header, for the MPI build only (STYLEGAN_MPI=1): this system-library target exists so
   that SwiftPM takes mpi.h's include path and -lmpi from pkg-config (ompi-c). */
#include <mpi.h>
