// Shared helpers of the C-kernel tests: deterministic random arrays and the difference measures
// every test prints. No kernel is called from here.
import Foundation

/// SplitMix64: a tiny deterministic generator, so a failing case reproduces exactly.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    /// Standard normal (Box-Muller).
    mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
}

/// `count` values uniform in [lo, hi), fixed by `seed`.
func randomArray(count: Int, seed: UInt64, lo: Float = -1, hi: Float = 1) -> [Float] {
    var g = SplitMix64(seed: seed)
    return (0..<count).map { _ in lo + (hi - lo) * Float(g.uniform()) }
}

/// `count` standard-normal values times `scale` plus `offset`, fixed by `seed`.
func randomNormalArray(count: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
    var g = SplitMix64(seed: seed)
    return (0..<count).map { _ in offset + scale * Float(g.normal()) }
}

/// Largest |a - b|; NaN if either holds a NaN where the other does not match it.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "size mismatch \(a.count) vs \(b.count)")
    var m = 0.0
    for i in a.indices {
        let d = abs(Double(a[i]) - Double(b[i]))
        if d.isNaN { return .nan }
        m = max(m, d)
    }
    return m
}

/// Largest |a - b| divided by the largest |b| (a scale-free error for whole tensors).
func maxRelDifference(_ a: [Float], _ b: [Float]) -> Double {
    let scale = b.reduce(0.0) { max($0, abs(Double($1))) }
    return maxAbsDifference(a, b) / max(scale, 1e-30)
}

/// Inner product in double.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var s = 0.0
    for i in a.indices { s += Double(a[i]) * Double(b[i]) }
    return s
}
