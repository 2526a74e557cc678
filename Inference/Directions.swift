// Latent edit directions and edits along them. SeFa (Shen & Zhou 2021, "Closed-form factorization
// of latent semantics in GANs", genforce/sefa): the style affines of a layer range map w to each
// layer's styles; stacking their weights as columns of A (wDim x sum of 2C), each column scaled
// to unit norm, the eigenvectors of A A^T with the largest eigenvalues are the directions of w
// that move the styles most. An edit adds strength x direction to w on chosen layers.
import CKernels
import Foundation
import StyleGAN

public struct Directions {
    /// (count, wDim), unit rows, by eigenvalue from the largest.
    public let vectors: Tensor
    public let eigenvalues: [Float]

    /// SeFa over `layers` of the generator (all its layers when nil).
    public static func sefa(_ g: Generator, layers: [Int]? = nil) throws -> Directions {
        let d = g.config.wDim
        let chosen = layers ?? Array(0..<g.synthesis.layers.count)
        guard !chosen.isEmpty else { throw InferenceError("SeFa needs at least one layer") }
        var m = [Double](repeating: 0, count: d * d)
        for l in chosen {
            guard l >= 0 && l < g.synthesis.layers.count else { throw InferenceError("layer \(l) is past the network's \(g.synthesis.layers.count) layers") }
            let w = g.synthesis.layers[l].style.affine.weight  // (2C, wDim): each row a column of A
            for r in 0..<w.shape[0] {
                var row = (0..<d).map { Double(w.data[r * d + $0]) }
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard norm > 0 else { continue }
                row = row.map { $0 / norm }
                ck_dgemm(1, 0, Int32(d), Int32(d), 1, 1, row, row, 1, &m)
            }
        }
        var values = [Double](repeating: 0, count: d)
        guard ck_symmetric_eigen(&m, &values, Int32(d)) == 0 else { throw InferenceError("SeFa: the eigen-decomposition failed") }
        // dsyevd: ascending, row i the eigenvector of values[i].
        let vectors = Tensor(uninitialized: [d, d])
        for k in 0..<d {
            let src = d - 1 - k
            for j in 0..<d { vectors.data[k * d + j] = Float(m[src * d + j]) }
        }
        return Directions(vectors: vectors, eigenvalues: values.reversed().map(Float.init))
    }

    public init(vectors: Tensor, eigenvalues: [Float]) { (self.vectors, self.eigenvalues) = (vectors, eigenvalues) }

    /// Direction k as (1, wDim).
    public func direction(_ k: Int) -> Tensor { vectors.narrow(axis: 0, start: k, length: 1).copy() }
}

/// A direction file: a .npy of [wDim] or [1, wDim] (or [K, wDim] with `index`), checked against the network.
public func loadDirection(_ path: String, index: Int = 0, wDim: Int) throws -> Tensor {
    let t: Tensor
    do { t = try NumPy.read(path) } catch { throw InferenceError("\(error)") }
    let rows = t.rank == 1 ? 1 : t.shape[0]
    guard (t.rank == 1 && t.shape[0] == wDim) || (t.rank == 2 && t.shape[1] == wDim) else {
        throw InferenceError("\(path): a direction of shape \(t.shape); this network needs [\(wDim)] or [K, \(wDim)]")
    }
    guard (0..<rows).contains(index) else { throw InferenceError("\(path): direction \(index) of \(rows)") }
    return t.reshaped([rows, wDim]).narrow(axis: 0, start: index, length: 1).copy()
}

/// ws (1, layers, wDim) with strength x direction added on `layers`.
public func edited(_ ws: Tensor, direction: Tensor, strength: Float, layers: [Int]) -> Tensor {
    let out = ws.copy()
    let (l, d) = (ws.shape[1], ws.shape[2])
    for layer in layers where layer < l {
        for j in 0..<d { out.data[layer * d + j] += strength * direction.data[j] }
    }
    return out
}
