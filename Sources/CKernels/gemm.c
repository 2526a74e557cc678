/* gemm: being written */
