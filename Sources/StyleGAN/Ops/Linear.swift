// Matrix product, the dense layers' primitive. Its derivatives are matrix products again, so
// second derivatives follow.
import CKernels

/// op(a) x op(b), with op a transpose when the flag is set: a is (M,K) or (K,M), b (K,N) or (N,K).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul of \(a.shape) and \(b.shape): rank 2 needed")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul: inner dimensions \(k) and \(kb) differ (\(a.shape) x \(b.shape))")
    Kernels.ensure()
    let out = Tensor(uninitialized: [m, n])
    if m * n > 0 {
        if k == 0 { out.fill(0) } else {
            ck_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a.data, b.data, 0, out.data)
        }
    }
    return record(out, "matmul", [a, b]) { g, needs in
        // C = op(A) op(B): d op(A) = G op(B)^T, d op(B) = op(A)^T G, transposed back where stored so.
        let ga: Tensor? = needs[0]
            ? (transposeA ? matmul(b, g, transposeA: transposeB, transposeB: true)
                          : matmul(g, b, transposeA: false, transposeB: !transposeB))
            : nil
        let gb: Tensor? = needs[1]
            ? (transposeB ? matmul(g, a, transposeA: true, transposeB: transposeA)
                          : matmul(a, g, transposeA: !transposeA, transposeB: false))
            : nil
        return [ga, gb]
    }
}
