// Matrix product, the dense layers' primitive. Its derivatives are matrix products again, so
// second derivatives follow.
import CKernels

/// alpha op(a) x op(b), with op a transpose when the flag is set: a is (M,K) or (K,M), b (K,N) or
/// (N,K). alpha applies the dense layers' equalised-lr scale inside the product.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1) -> Tensor {
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
            ck_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a.data, b.data, 0, out.data)
        }
    }
    return record(out, "matmul", [a, b]) { g, needs in
        // C = alpha op(A) op(B): d op(A) = alpha G op(B)^T, d op(B) = alpha op(A)^T G, transposed
        // back where stored so.
        let ga: Tensor? = needs[0]
            ? (transposeA ? matmul(b, g, transposeA: transposeB, transposeB: true, alpha: alpha)
                          : matmul(g, b, transposeA: false, transposeB: !transposeB, alpha: alpha))
            : nil
        let gb: Tensor? = needs[1]
            ? (transposeB ? matmul(g, a, transposeA: true, transposeB: transposeA, alpha: alpha)
                          : matmul(a, g, transposeA: !transposeA, transposeB: false, alpha: alpha))
            : nil
        return [ga, gb]
    }
}
