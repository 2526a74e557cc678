// ck_sgemm (OpenBLAS in blocks over OpenMP threads) against its naive twin: every transpose
// combination, alpha and beta, odd sizes, both ways of splitting, and BLAS's rule that beta 0
// never reads C.
import CKernels
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
    for (m, n, k) in [(1, 1, 1), (7, 5, 9), (33, 17, 65), (64, 130, 48), (129, 200, 40), (300, 20, 64)] {
        let c0 = randomArray(count: m * n, seed: UInt64(m + n))
        let (fast, ref) = gemmBoth(transA: trans.0, transB: trans.1, m: m, n: n, k: k,
                                   alpha: 0.75, beta: -1.5, c0: c0, seed: UInt64(k))
        let e = maxRelDifference(fast, ref)
        print("sgemm transA \(trans.0) transB \(trans.1) \(m)x\(n)x\(k): max rel diff \(e)")
        #expect(e <= 1e-5)
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
