// Double-precision algebra on small dense row-major matrices, for what is computed once per run
// rather than per step (latent directions): Gram matrices and symmetric eigen-decompositions.
import CKernels

public enum LinearAlgebra {
    /// AᵀA for A of (rows, cols): a (cols, cols) matrix.
    public static func gram(_ a: [Double], rows: Int, cols: Int) -> [Double] {
        precondition(a.count == rows * cols, "gram: \(a.count) values for (\(rows), \(cols))")
        var out = [Double](repeating: 0, count: cols * cols)
        ck_dgemm(1, 0, Int32(cols), Int32(cols), Int32(rows), 1, a, a, 0, &out)
        return out
    }

    /// The eigenvalues of the symmetric (n, n) matrix `m` from the largest, with their unit
    /// eigenvectors as the rows of `vectors`; nil when LAPACK fails.
    public static func symmetricEigen(_ m: [Double], n: Int) -> (values: [Double], vectors: [Double])? {
        precondition(m.count == n * n, "symmetricEigen: \(m.count) values for (\(n), \(n))")
        var a = m, w = [Double](repeating: 0, count: n)
        guard ck_symmetric_eigen(&a, &w, Int32(n)) == 0 else { return nil }
        // LAPACK gives them ascending.
        var vectors = [Double](repeating: 0, count: n * n)
        for k in 0..<n { for j in 0..<n { vectors[k * n + j] = a[(n - 1 - k) * n + j] } }
        return (w.reversed(), vectors)
    }
}
