// ProGAN's multi-scale sliced Wasserstein distance against the NumPy reference
// (Tests/reference/swd_reference.py, same centres and directions), and its basic behaviour:
// zero for a set against itself, larger for blurred or noisier images.
import Foundation
import Testing
@testable import StyleGAN

@Suite("SlicedWasserstein")
struct SlicedWassersteinTests {
    static func fixture() throws -> SafetensorsFile {
        try SafetensorsFile.read(fixturesDirectory.appendingPathComponent("metrics/swd.safetensors").path)
    }

    /// Smooth random images (N, 3, R, R) roughly in [-1, 1].
    static func smoothImages(_ n: Int, _ r: Int, seed: UInt64) -> Tensor {
        let x = Tensor(randomNormal: [n, 3, r, r], seed: seed, stream: 7)
        let s = x.blurred().blurred()
        for i in 0..<s.count { s.data[i] = max(-1, min(1, s.data[i])) }
        return s.detached()
    }

    @Test func matchesNumPyReference() throws {
        let f = try Self.fixture()
        let a = try f.tensor("in.a"), b = try f.tensor("in.b")
        let levels = SlicedWasserstein.resolutions(for: a.shape[2])
        #expect(levels == [32, 16])
        let posA = try levels.indices.map { try f.tensor("pos.a.\($0)") }
        let posB = try levels.indices.map { try f.tensor("pos.b.\($0)") }
        let dirs = try levels.indices.map { l in try (0..<4).map { try f.tensor("dirs.\(l).\($0)") } }
        for (name, other) in [("out", b), ("out_self", a)] {
            let got = slicedWassersteinDistance(a, other, positionsA: posA, positionsB: posB, directions: dirs)
            let want = try f.tensor(name)
            #expect(got.resolutions == levels)
            for l in levels.indices {
                let (g, w) = (got.distances[l], Double(want.data[l]))
                print(String(format: "  %@ level %d: swift %.6f numpy %.6f", name, levels[l], g, w))
                #expect(abs(g - w) <= 1e-3 * abs(w) + 1e-4, "\(name) level \(levels[l]): \(g) vs \(w)")
            }
        }
    }

    @Test func pyramidReconstructs() {
        // The pyramid is invertible: adding back the up-sampled coarser levels gives the image.
        let x = Self.smoothImages(2, 32, seed: 3)
        let p = SlicedWasserstein.laplacianPyramid(x, levels: 2)
        #expect(p.map(\.shape) == [[2, 3, 32, 32], [2, 3, 16, 16]])
        let up = SlicedWasserstein.pyrUp(p[1])
        var worst: Float = 0
        for i in 0..<x.count { worst = max(worst, abs(p[0].data[i] + up.data[i] - x.data[i])) }
        #expect(worst < 1e-5)
    }

    @Test func selfDistanceIsZero() {
        let a = Self.smoothImages(8, 32, seed: 1)
        let pos = (0..<2).map { SlicedWasserstein.randomPositions(seed: 9, level: $0, firstImage: 0, imageCount: 8, size: [32, 16][$0]) }
        let same = slicedWassersteinDistance(a, a, positionsA: pos, positionsB: pos)
        #expect(same.distances.allSatisfy { abs($0) < 1e-9 }, "\(same.distances)")
        // Deterministic: the same call twice gives the same numbers.
        let r1 = slicedWassersteinDistance(a, a), r2 = slicedWassersteinDistance(a, a)
        #expect(r1.distances == r2.distances)
    }

    @Test func growsWithBlurAndNoise() {
        // Same centres for both sets, so only the images differ: 0 for the set itself, more
        // the more it is blurred; white noise shows at the finest level above the sampling floor.
        let n = 16
        let a = Self.smoothImages(n, 32, seed: 1)
        let pos = (0..<2).map { SlicedWasserstein.randomPositions(seed: 9, level: $0, firstImage: 0, imageCount: n, size: [32, 16][$0]) }
        func swd(_ b: Tensor) -> SWDResult { slicedWassersteinDistance(a, b, positionsA: pos, positionsB: pos) }
        let blur1 = a.blurred().detached(), blur2 = blur1.blurred().blurred().detached()
        let noisy = a.copy()
        let e = Tensor(randomNormal: a.shape, seed: 5)
        for i in 0..<noisy.count { noisy.data[i] += 0.5 * e.data[i] }
        let (d0, d1, d2, dn) = (swd(a), swd(blur1), swd(blur2), swd(noisy))
        let floor = slicedWassersteinDistance(a, Self.smoothImages(n, 32, seed: 2))  // another draw, other centres
        print("  self \(d0.distances) blur \(d1.distances) blur3 \(d2.distances) noise \(dn.distances) floor \(floor.distances)")
        #expect(d0.average < 1e-9)
        #expect(d1.average > 0 && d2.average > d1.average)
        #expect(d2.distances[0] > d1.distances[0] && d1.distances[0] > d0.distances[0])
        #expect(dn.distances[0] > floor.distances[0])
    }

    @Test func batchedEqualsWhole() {
        // Feeding in batches draws the same centres as one batch.
        let a = Self.smoothImages(6, 16, seed: 4)
        let whole = SWDDescriptors(resolution: 16, seed: 3), parts = SWDDescriptors(resolution: 16, seed: 3)
        whole.add(a)
        let first = Tensor(uninitialized: [4, 3, 16, 16]), rest = Tensor(uninitialized: [2, 3, 16, 16])
        first.data.update(from: a.data, count: first.count)
        rest.data.update(from: a.data + first.count, count: rest.count)
        parts.add(first); parts.add(rest)
        #expect(whole.finalized()[0].scalars == parts.finalized()[0].scalars)
    }
}
