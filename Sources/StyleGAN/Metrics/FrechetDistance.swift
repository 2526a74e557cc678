// The Fréchet Inception Distance (Heusel et al. 2017) and the Kernel Inception Distance
// (Bińkowski et al. 2018) of two sets of Inception features, as NVIDIA's metrics compute them:
// statistics in float64 (mean, covariance divided by N as NVIDIA's FeatureStats does; pytorch-fid
// and np.cov divide by N - 1, 0.02% apart at 5,000 images), and for FID the trace of the matrix square
// root by the eigen-decomposition route (LAPACK dsyevd): tr sqrt(S1 S2) = sum of sqrt(eigenvalues
// of sqrt(S1) S2 sqrt(S1)), which is symmetric, where scipy's sqrtm works on the non-symmetric
// product. KID is kernel_inception_distance.py's unbiased MMD with the cubic polynomial kernel
// k(x, y) = (x.y / d + 1)^3 over random subsets (drawn here with Philox, not NumPy's generator).
import CKernels
import Foundation

public struct FeatureStatistics {
    public let count: Int, dim: Int
    public let mean: [Double]
    /// (dim, dim), row-major.
    public let covariance: [Double]

    /// Mean and covariance (divided by N, as NVIDIA's metrics) of features (N, D).
    public init(features: Tensor) {
        precondition(features.rank == 2 && features.shape[0] >= 2, "statistics need (N >= 2, D) features, got \(features.shape)")
        let (n, d) = (features.shape[0], features.shape[1])
        var mean = [Double](repeating: 0, count: d)
        var centred = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(features.data[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        for i in 0..<n { for j in 0..<d { centred[i * d + j] = Double(features.data[i * d + j]) - mean[j] } }
        var cov = [Double](repeating: 0, count: d * d)
        ck_dgemm(1, 0, Int32(d), Int32(d), Int32(n), 1 / Double(n), centred, centred, 0, &cov)
        (count, dim, self.mean, covariance) = (n, d, mean, cov)
    }
}

public enum InceptionDistance {
    /// FID of two feature sets' statistics.
    public static func frechet(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        precondition(a.dim == b.dim, "FID of \(a.dim)- and \(b.dim)-dimensional features")
        let d = a.dim
        let meanTerm = zip(a.mean, b.mean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let traces = (0..<d).reduce(0) { $0 + a.covariance[$1 * d + $1] + b.covariance[$1 * d + $1] }
        // sqrt(S1) = E^T diag(sqrt(max(l, 0))) E with E's rows the eigenvectors.
        var e = a.covariance, l = [Double](repeating: 0, count: d)
        guard ck_symmetric_eigen(&e, &l, Int32(d)) == 0 else { throw StyleGANError.metric("FID: the eigen-decomposition of the first covariance failed") }
        var scaled = e
        for i in 0..<d {
            let s = max(l[i], 0).squareRoot()
            for j in 0..<d { scaled[i * d + j] *= s }
        }
        var root = [Double](repeating: 0, count: d * d)
        ck_dgemm(1, 0, Int32(d), Int32(d), Int32(d), 1, e, scaled, 0, &root)
        var t = [Double](repeating: 0, count: d * d), m = [Double](repeating: 0, count: d * d)
        ck_dgemm(0, 0, Int32(d), Int32(d), Int32(d), 1, root, b.covariance, 0, &t)
        ck_dgemm(0, 0, Int32(d), Int32(d), Int32(d), 1, t, root, 0, &m)
        // Symmetrise away rounding before the symmetric solver.
        for i in 0..<d {
            for j in (i + 1)..<d {
                let s = (m[i * d + j] + m[j * d + i]) / 2
                (m[i * d + j], m[j * d + i]) = (s, s)
            }
        }
        guard ck_symmetric_eigen(&m, &l, Int32(d)) == 0 else { throw StyleGANError.metric("FID: the eigen-decomposition of sqrt(S1) S2 sqrt(S1) failed") }
        let traceRoot = l.reduce(0) { $0 + max($1, 0).squareRoot() }
        return meanTerm + traces - 2 * traceRoot
    }

    /// KID: the mean over `subsets` random subsets of `subsetSize` (at most the smaller set) of the
    /// unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3. `random: false` takes each set's first rows
    /// instead of a draw (one subset then gives a value that depends on no generator).
    public static func kernel(real: Tensor, generated: Tensor, subsets: Int = 100, subsetSize: Int = 1000, seed: UInt64 = 0,
                              random: Bool = true) -> Double {
        precondition(real.rank == 2 && generated.rank == 2 && real.shape[1] == generated.shape[1], "KID of \(real.shape) and \(generated.shape)")
        let d = real.shape[1]
        let m = min(real.shape[0], generated.shape[0], subsetSize)
        precondition(m >= 2, "KID needs at least 2 samples per set")
        func pick(_ t: Tensor, _ stream: UInt32, _ step: Int) -> [Double] {
            let n = t.shape[0]
            var rows = Array(0..<n)
            if m < n && random {
                // The first m of a Philox-keyed shuffle: a subset without replacement.
                let keys = Tensor(randomUniform: [n], seed: seed, stream: stream, step: UInt32(step))
                rows.sort { (keys.data[$0], $0) < (keys.data[$1], $1) }
            }
            var out = [Double](repeating: 0, count: m * d)
            for (i, r) in rows.prefix(m).enumerated() { for j in 0..<d { out[i * d + j] = Double(t.data[r * d + j]) } }
            return out
        }
        func kernelSums(_ x: [Double], _ y: [Double]) -> (all: Double, diagonal: Double) {
            var g = [Double](repeating: 0, count: m * m)
            ck_dgemm(0, 1, Int32(m), Int32(m), Int32(d), 1 / Double(d), x, y, 0, &g)
            var all = 0.0, diag = 0.0
            for i in 0..<m {
                for j in 0..<m {
                    let k = g[i * m + j] + 1
                    all += k * k * k
                    if i == j { diag += k * k * k }
                }
            }
            return (all, diag)
        }
        var total = 0.0
        for s in 0..<subsets {
            let x = pick(generated, 0xC1D0, s), y = pick(real, 0xC1D1, s)
            let xx = kernelSums(x, x), yy = kernelSums(y, y), xy = kernelSums(x, y)
            total += (xx.all - xx.diagonal + yy.all - yy.diagonal) / Double(m - 1) - xy.all * 2 / Double(m)
        }
        return total / Double(subsets) / Double(m)
    }
}

