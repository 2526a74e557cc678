// Latent edit directions and edits along them. SeFa (Shen & Zhou 2021, "Closed-form factorization
// of latent semantics in GANs", genforce/sefa): the style affines of a layer range map w to each
// layer's styles; stacking their weights as columns of A (wDim x the number of styles), each column scaled
// to unit norm, the eigenvectors of A A^T with the largest eigenvalues are the directions of w
// that move the styles most. An edit adds strength x direction to w on chosen layers.
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
        guard !chosen.isEmpty else { throw StyleGANError.inference("SeFa needs at least one layer") }
        var a: [Double] = []  // Aᵀ: one unit row per style
        for l in chosen {
            guard l >= 0 && l < g.synthesis.layers.count else { throw StyleGANError.inference("layer \(l) is past the network's \(g.synthesis.layers.count) layers") }
            let w = g.synthesis.layers[l].styleAffine.weight.scalars  // (2C or C, wDim): each row a column of A
            for r in 0..<w.count / d {
                let row = w[r * d..<(r + 1) * d].map(Double.init)
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 0 { a += row.map { $0 / norm } }
            }
        }
        guard let (values, vectors) = LinearAlgebra.symmetricEigen(LinearAlgebra.gram(a, rows: a.count / d, cols: d), n: d) else {
            throw StyleGANError.inference("SeFa: the eigen-decomposition failed")
        }
        return Directions(vectors: Tensor(vectors.map(Float.init), shape: [d, d]), eigenvalues: values.map(Float.init))
    }

    public init(vectors: Tensor, eigenvalues: [Float]) { (self.vectors, self.eigenvalues) = (vectors, eigenvalues) }

    /// A direction from labelled latents (InterFaceGAN's idea; the mean difference of the two
    /// classes instead of its linear SVM's normal): w's (N, wDim) and labels (N), 0 / 1 or any
    /// numbers (then split at their median); the unit vector from the low class's mean to the high one's.
    public static func fromLabels(latents w: Tensor, labels: [Float]) throws -> Tensor {
        guard w.rank == 2, w.shape[0] == labels.count else {
            throw StyleGANError.inference("\(labels.count) labels for latents of shape \(w.shape): one label per row")
        }
        let d = w.shape[1]
        let values = w.scalars
        let sorted = labels.sorted()
        let binary = labels.allSatisfy { $0 == 0 || $0 == 1 }
        let threshold: Float = binary ? 0.5 : sorted[sorted.count / 2]
        var hi = [Double](repeating: 0, count: d), lo = [Double](repeating: 0, count: d)
        var (nh, nl) = (0, 0)
        for (i, y) in labels.enumerated() {
            let high = binary ? y == 1 : y >= threshold
            for j in 0..<d {
                if high { hi[j] += Double(values[i * d + j]) } else { lo[j] += Double(values[i * d + j]) }
            }
            if high { nh += 1 } else { nl += 1 }
        }
        guard nh > 0, nl > 0 else { throw StyleGANError.inference("the labels put every latent in one class; both classes need examples") }
        let diff = (0..<d).map { hi[$0] / Double(nh) - lo[$0] / Double(nl) }
        let norm = diff.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { throw StyleGANError.inference("the two classes have the same mean latent") }
        return Tensor(diff.map { Float($0 / norm) }, shape: [1, d])
    }

    /// Labels from a CSV file: one number per line (a header line and extra columns are allowed:
    /// the last column is the label).
    public static func readLabels(_ path: String) throws -> [Float] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw StyleGANError.inference("\(path): cannot read") }
        var out: [Float] = []
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let field = line.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if let v = Float(field), v.isFinite { out.append(v) } else if n > 0 || !out.isEmpty {
                throw StyleGANError.inference("\(path): line \(n + 1) has no number ('\(line)')")
            }
        }
        guard !out.isEmpty else { throw StyleGANError.inference("\(path): no labels") }
        return out
    }

    /// Direction k as (1, wDim).
    public func direction(_ k: Int) -> Tensor { vectors.narrow(axis: 0, start: k, length: 1).copy() }
}

/// A direction file: a .npy of [wDim] or [1, wDim] (or [K, wDim] with `index`), checked against the network.
public func loadDirection(_ path: String, index: Int = 0, wDim: Int) throws -> Tensor {
    let t: Tensor
    do { t = try NumPy.read(path) } catch { throw StyleGANError.inference("\(error)") }
    let rows = t.rank == 1 ? 1 : t.shape[0]
    guard (t.rank == 1 && t.shape[0] == wDim) || (t.rank == 2 && t.shape[1] == wDim) else {
        throw StyleGANError.inference("\(path): a direction of shape \(t.shape); this network needs [\(wDim)] or [K, \(wDim)]")
    }
    guard (0..<rows).contains(index) else { throw StyleGANError.inference("\(path): direction \(index) of \(rows)") }
    return t.reshaped([rows, wDim]).narrow(axis: 0, start: index, length: 1).copy()
}

/// ws (1, layers, wDim) with strength x direction added on `layers`.
public func edited(_ ws: Tensor, direction: Tensor, strength: Float, layers: [Int]) -> Tensor {
    let out = ws.copy()
    let (l, d) = (ws.shape[1], ws.shape[2])
    for layer in layers where layer < l {
        for j in 0..<d { out[flat: layer * d + j] += strength * direction[flat: j] }
    }
    return out
}
