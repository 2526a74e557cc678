// ck_sgemm (OpenBLAS in blocks over OpenMP threads) against its naive twin: every transpose
// combination, alpha and beta, odd sizes, both ways of splitting, and BLAS's rule that beta 0
// never reads C. ck_gemm_unpacked (A read in place, AVX-512) likewise, on every block shape it has.
import CKernels
import CKernelsReference
import Testing

private func gemmBoth(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      beta: Float, c0: [Float], seed: UInt64) -> (fast: [Float], ref: [Float]) {
    let a = randomArray(count: m * k, seed: seed)
    let b = randomArray(count: k * n, seed: seed + 1)
    var fast = c0, ref = c0
    ck_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, b, beta, &fast)
    ck_sgemm_ref(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, b, beta,
                 &ref)
    return (fast, ref)
}

@Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
func sgemmMatchesReference(_ trans: (Bool, Bool)) {
    // The last three are large enough to be split over threads: by columns (130 and 200 wide, the
    // last block short) and by rows (C 300 x 20).
    // Without transB the product runs on the unpacked kernels over blocks of rows (C up to 512 columns wide),
    // split over threads when large (300 rows); with transB and C of at least 64 rows, the same
    // after a copy of B^T.
    for (m, n, k) in [(1, 1, 1), (7, 5, 9), (33, 17, 65), (64, 130, 48), (129, 200, 40), (300, 20, 64), (300, 600, 30)] {
        for alpha: Float in [0.75, 1] {
            let c0 = randomArray(count: m * n, seed: UInt64(m + n))
            let (fast, ref) = gemmBoth(transA: trans.0, transB: trans.1, m: m, n: n, k: k,
                                       alpha: alpha, beta: -1.5, c0: c0, seed: UInt64(k))
            let e = maxRelDifference(fast, ref)
            print("sgemm transA \(trans.0) transB \(trans.1) alpha \(alpha) \(m)x\(n)x\(k): max rel diff \(e)")
            #expect(e <= 1e-5)
        }
    }
}

@Test func sgemmBetaZeroIgnoresC() {
    let c0 = [Float](repeating: .nan, count: 6 * 4)
    let (fast, ref) = gemmBoth(transA: false, transB: true, m: 6, n: 4, k: 5, alpha: 1, beta: 0,
                               c0: c0, seed: 3)
    let e = maxRelDifference(fast, ref)
    print("sgemm beta 0 over NaN: max rel diff \(e)")
    #expect(!fast.contains { $0.isNaN } && !ref.contains { $0.isNaN })
    #expect(e <= 1e-5)
}

@Test func threadCountIsPositive() {
    ck_init()
    #expect(ck_num_threads() >= 1)
}

/// Widths 1-200 reach every kernel (1-4 vectors per 64 columns, masked tails, several column
/// blocks); row counts leave every kind of remainder after the 24 / 12 / 8 / 6-row blocks; strides
/// wider than the matrices, as Winograd's planes have.
@Test(arguments: [false, true])
func unpackedProductMatchesReference(_ transA: Bool) {
    for (m, n, k) in [(1, 1, 1), (5, 16, 3), (25, 17, 9), (30, 32, 64), (49, 48, 33), (13, 63, 7),
                      (64, 64, 512), (7, 65, 20), (97, 130, 31), (24, 200, 16)] {
        let (lda, ldb, ldc) = ((transA ? m : k) + 3, n + 5, n + 2)
        let a = randomArray(count: (transA ? k : m) * lda, seed: UInt64(m * 7 + k))
        let b = randomArray(count: k * ldb, seed: UInt64(n * 3 + k))
        var c = [Float](repeating: .nan, count: m * ldc)
        ck_gemm_unpacked(transA ? 1 : 0, Int32(m), Int32(n), Int32(k), a, lda, b, ldb, 0, &c, ldc)
        // The reference on the same values, packed densely.
        var ad = [Float](), bd = [Float]()
        for r in 0..<(transA ? k : m) { ad += a[(r * lda)..<(r * lda + (transA ? m : k))] }
        for r in 0..<k { bd += b[(r * ldb)..<(r * ldb + n)] }
        var ref = [Float](repeating: 0, count: m * n)
        ck_sgemm_ref(transA ? 1 : 0, 0, Int32(m), Int32(n), Int32(k), 1, ad, bd, 0, &ref)
        let got = (0..<m).flatMap { r in c[(r * ldc)..<(r * ldc + n)] }
        let e = maxRelDifference(got, ref)
        print("unpacked product transA \(transA) \(m)x\(n)x\(k): max rel diff \(e)")
        #expect(e <= 1e-5, "\(m)x\(n)x\(k)")
        // Columns past n of each row of C (the row stride's slack) are left alone.
        #expect((0..<m).allSatisfy { r in c[(r * ldc + n)..<(r * ldc + ldc)].allSatisfy(\.isNaN) })
        // beta: C = op(A) B + beta C, on the result just checked.
        let c1 = c
        ck_gemm_unpacked(transA ? 1 : 0, Int32(m), Int32(n), Int32(k), a, lda, b, ldb, -0.5, &c, ldc)
        let got2 = (0..<m).flatMap { r in c[(r * ldc)..<(r * ldc + n)] }
        var want2 = [Float]()
        for r in 0..<m { for j in 0..<n { want2.append(ref[r * n + j] - 0.5 * c1[r * ldc + j]) } }
        #expect(maxRelDifference(got2, want2) <= 1e-5, "beta, \(m)x\(n)x\(k)")
    }
}
