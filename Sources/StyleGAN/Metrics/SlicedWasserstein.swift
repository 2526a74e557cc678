// ProGAN's multi-scale sliced Wasserstein distance (MS-SWD, Karras et al. 2018, metrics/
// sliced_wasserstein.py), written anew:
//   1. a Laplacian pyramid of each image, from its size down to 16x16 (5x5 gaussian
//      [1,4,6,4,1]/16 outer [1,4,6,4,1]/16, mirror borders, as cv2.pyrDown / pyrUp);
//   2. at every level, 128 random 7x7x3 neighbourhoods per image (centres drawn uniformly
//      with the window inside the image);
//   3. each set's descriptors of a level normalised per channel by that set's own mean and
//      (population) std over all its descriptors and the 7x7 positions (finalize_descriptors);
//   4. per level, 4 repeats of 128 random unit directions; project both sets, sort each
//      direction's projections, average |a - b| over descriptors and directions, then over
//      repeats; multiplied by 1e3. The result is per level (finest first) and their average.
//
// Images are float (N, 3, R, R), R a power of two >= 16. Any affine range works the same
// (step 3 removes per-channel scale and offset), so [-1, 1] images give ProGAN's numbers up to
// rounding; ProGAN fed uint8 0..255 images, which `quantizedToUInt8Grid` reproduces.
//
// Randomness is Philox with a fixed seed (same on every run and thread count):
//   positions of image k at level l of a set: uniform, seed, stream 0x5D00 + l, step k
//   directions of repeat j at level l: normal, seed, stream 0x5D80 + l, step j
// Positions and directions can also be given (the NumPy reference test does this).
import Foundation

public enum SlicedWasserstein {
    public static let neighbourhoodSize = 7
    public static let neighbourhoodsPerImage = 128
    public static let directionRepeats = 4
    public static let directionsPerRepeat = 128
    /// 3 channels x 7 x 7.
    public static let descriptorLength = 3 * 7 * 7

    /// The pyramid's resolutions: R, R/2, ... down to 16 (ProGAN's `while res >= 16`).
    public static func resolutions(for r: Int) -> [Int] {
        var out: [Int] = [], res = r
        while res >= 16 { out.append(res); res /= 2 }
        return out
    }

    // MARK: Laplacian pyramid

    static let taps: [Float] = [1, 4, 6, 4, 1].map { $0 / 16 }

    /// scipy.ndimage 'mirror' border: d c b | a b c d | c b a (for overhangs up to n - 1).
    @inline(__always) static func mirror(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i)
    }

    /// Separable 5x5 convolution of every (h, w) plane with taps * gain, mirror borders.
    static func gaussian(_ src: UnsafePointer<Float>, planes: Int, h: Int, w: Int, gain: Float,
                         into dst: UnsafeMutablePointer<Float>) {
        var tmp = [Float](repeating: 0, count: h * w)
        let t = taps.map { $0 * gain }
        for p in 0..<planes {
            let s = src + p * h * w, d = dst + p * h * w
            for y in 0..<h {
                for x in 0..<w {
                    var acc: Float = 0
                    for k in 0..<5 { acc += t[k] * s[y * w + mirror(x + k - 2, w)] }
                    tmp[y * w + x] = acc
                }
            }
            for y in 0..<h {
                for x in 0..<w {
                    var acc: Float = 0
                    for k in 0..<5 { acc += taps[k] * tmp[mirror(y + k - 2, h) * w + x] }
                    d[y * w + x] = acc
                }
            }
        }
    }

    /// cv2.pyrDown: blur, then keep even rows and columns.
    public static func pyrDown(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let blurred = Tensor(uninitialized: x.shape)
        gaussian(x.data, planes: n * c, h: h, w: w, gain: 1, into: blurred.data)
        let (oh, ow) = ((h + 1) / 2, (w + 1) / 2)
        let out = Tensor(uninitialized: [n, c, oh, ow])
        for p in 0..<(n * c) {
            for y in 0..<oh { for xx in 0..<ow { out.data[(p * oh + y) * ow + xx] = blurred.data[(p * h + 2 * y) * w + 2 * xx] } }
        }
        return out
    }

    /// cv2.pyrUp: zeros between the samples, then blur with 4x the filter.
    public static func pyrUp(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (2 * h, 2 * w)
        let spread = Tensor(zeros: [n, c, oh, ow])
        for p in 0..<(n * c) {
            for y in 0..<h { for xx in 0..<w { spread.data[(p * oh + 2 * y) * ow + 2 * xx] = x.data[(p * h + y) * w + xx] } }
        }
        let out = Tensor(uninitialized: spread.shape)
        gaussian(spread.data, planes: n * c, h: oh, w: ow, gain: 4, into: out.data)
        return out
    }

    /// Levels finest first: band-pass differences, the last one the low-pass image.
    public static func laplacianPyramid(_ images: Tensor, levels: Int) -> [Tensor] {
        precondition(images.rank == 4, "laplacianPyramid: images must be (N, C, H, W), got \(images.shape)")
        var pyramid = [images.copy()]
        for _ in 1..<max(levels, 1) {
            let last = pyramid[pyramid.count - 1], down = pyrDown(last), up = pyrUp(down)
            for i in 0..<last.count { last.data[i] -= up.data[i] }
            pyramid.append(down)
        }
        return pyramid
    }

    // MARK: Descriptors

    /// Neighbourhood centres (y, x) for images first..<first+count of one level: (count*128, 2),
    /// integers in [3, size-3) stored as floats.
    public static func randomPositions(seed: UInt64, level: Int, firstImage: Int, imageCount: Int, size: Int) -> Tensor {
        let per = neighbourhoodsPerImage, half = neighbourhoodSize / 2
        let span = size - 2 * half
        let out = Tensor(uninitialized: [imageCount * per, 2])
        for k in 0..<imageCount {
            let u = Tensor(randomUniform: [per * 2], seed: seed, stream: 0x5D00 + UInt32(level), step: UInt32(firstImage + k))
            for i in 0..<(per * 2) {
                out.data[k * per * 2 + i] = Float(half + min(span - 1, Int(u.data[i] * Float(span))))
            }
        }
        return out
    }

    /// The 7x7x3 neighbourhoods (M, 147) of one level (N, 3, S, S) at centres (M, 2) = (y, x);
    /// neighbourhood m belongs to image m / (M / N). Component order: channel, dy, dx.
    public static func descriptors(_ level: Tensor, positions: Tensor) -> Tensor {
        let (n, c, h, w) = (level.shape[0], level.shape[1], level.shape[2], level.shape[3])
        precondition(c == 3, "descriptors: 3 channels expected, got \(c)")
        let m = positions.shape[0]
        precondition(positions.shape == [m, 2] && m % n == 0, "descriptors: positions \(positions.shape) for \(n) images")
        let per = m / n, size = neighbourhoodSize, half = size / 2
        let out = Tensor(uninitialized: [m, descriptorLength])
        for j in 0..<m {
            let img = j / per
            let cy = Int(positions.data[2 * j]), cx = Int(positions.data[2 * j + 1])
            precondition(cy >= half && cy < h - half && cx >= half && cx < w - half, "descriptor centre (\(cy), \(cx)) too near the border")
            var o = out.data + j * descriptorLength
            for ch in 0..<c {
                let plane = level.data + (img * c + ch) * h * w
                for dy in -half...half {
                    let row = plane + (cy + dy) * w + cx - half
                    for dx in 0..<size { o[dx] = row[dx] }
                    o += size
                }
            }
        }
        return out
    }

    /// finalize_descriptors: in place, each channel minus its mean over all descriptors and the
    /// 7x7 positions, divided by its population std.
    public static func normalize(_ desc: Tensor) {
        let m = desc.shape[0], len = descriptorLength, per = len / 3
        for ch in 0..<3 {
            var sum = 0.0, sq = 0.0
            for j in 0..<m { for i in 0..<per { let v = Double(desc.data[j * len + ch * per + i]); sum += v; sq += v * v } }
            let count = Double(m * per)
            let mean = sum / count
            let std = max(sq / count - mean * mean, 0).squareRoot()
            let (fm, fs) = (Float(mean), Float(std > 0 ? 1 / std : 1))
            for j in 0..<m { for i in 0..<per { let p = desc.data + j * len + ch * per + i; p.pointee = (p.pointee - fm) * fs } }
        }
    }

    // MARK: Sliced Wasserstein

    /// Random unit directions (147, 128) for one repeat of one level.
    public static func randomDirections(seed: UInt64, level: Int, repeat r: Int,
                                        count: Int = directionsPerRepeat) -> Tensor {
        let d = Tensor(randomNormal: [descriptorLength, count], seed: seed, stream: 0x5D80 + UInt32(level), step: UInt32(r))
        for k in 0..<count {
            var s = 0.0
            for i in 0..<descriptorLength { let v = Double(d.data[i * count + k]); s += v * v }
            let inv = Float(1 / s.squareRoot())
            for i in 0..<descriptorLength { d.data[i * count + k] *= inv }
        }
        return d
    }

    /// The sliced Wasserstein distance of two equal-size descriptor sets (M, D): per repeat, the
    /// mean over descriptors and directions of |sorted(A dirs) - sorted(B dirs)|, then the mean
    /// over repeats (not yet times 1e3).
    public static func distance(_ a: Tensor, _ b: Tensor, directions: [Tensor]) -> Double {
        precondition(a.rank == 2 && a.shape == b.shape, "sliced Wasserstein: shapes \(a.shape) and \(b.shape)")
        let m = a.shape[0]
        var total = 0.0
        for dirs in directions {
            precondition(dirs.rank == 2 && dirs.shape[0] == a.shape[1], "directions \(dirs.shape) for descriptors \(a.shape)")
            let k = dirs.shape[1]
            let pa = matmul(a, dirs), pb = matmul(b, dirs)
            var sum = 0.0
            var colA = [Float](repeating: 0, count: m), colB = colA
            for j in 0..<k {
                for i in 0..<m { colA[i] = pa.data[i * k + j]; colB[i] = pb.data[i * k + j] }
                colA.sort(); colB.sort()
                var s = 0.0
                for i in 0..<m { s += Double(abs(colA[i] - colB[i])) }
                sum += s
            }
            total += sum / Double(m * k)
        }
        return total / Double(directions.count)
    }

    /// Maps images in [-1, 1] to the 0..255 integer grid (and back), as ProGAN's uint8 images.
    public static func quantizedToUInt8Grid(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        for i in 0..<x.count {
            let v = ((x.data[i] + 1) * 127.5).rounded(.toNearestOrEven)
            out.data[i] = min(max(v, 0), 255) / 127.5 - 1
        }
        return out
    }
}

/// Per-level distances (x 1e3, finest level first) and their average.
public struct SWDResult {
    public var resolutions: [Int]
    public var distances: [Double]
    public var average: Double { distances.isEmpty ? 0 : distances.reduce(0, +) / Double(distances.count) }
}

/// Collects one image set's descriptors, batch by batch (ProGAN's feed), and normalises them.
public final class SWDDescriptors {
    public let resolution: Int
    public let levels: [Int]
    public let seed: UInt64
    public private(set) var imageCount = 0
    var parts: [[Tensor]]

    public init(resolution: Int, seed: UInt64) {
        precondition(resolution >= 16 && resolution & (resolution - 1) == 0, "MS-SWD needs a power-of-two resolution >= 16, got \(resolution)")
        self.resolution = resolution
        self.seed = seed
        levels = SlicedWasserstein.resolutions(for: resolution)
        parts = levels.map { _ in [] }
    }

    /// Adds a batch (N, 3, R, R); positions per level (N*128, 2) (y, x) when given, else random.
    public func add(_ images: Tensor, positions: [Tensor]? = nil) {
        precondition(images.rank == 4 && images.shape[1] == 3 && images.shape[2] == resolution && images.shape[3] == resolution,
                     "MS-SWD: images \(images.shape), expected (N, 3, \(resolution), \(resolution))")
        let n = images.shape[0]
        let pyramid = SlicedWasserstein.laplacianPyramid(images, levels: levels.count)
        for (l, level) in pyramid.enumerated() {
            let pos = positions?[l] ?? SlicedWasserstein.randomPositions(seed: seed, level: l, firstImage: imageCount, imageCount: n, size: levels[l])
            parts[l].append(SlicedWasserstein.descriptors(level, positions: pos))
        }
        imageCount += n
    }

    /// The normalised descriptors of every level (M, 147); the collected parts are released.
    public func finalized() -> [Tensor] {
        let out = parts.map { list -> Tensor in
            let m = list.reduce(0) { $0 + $1.shape[0] }
            let all = Tensor(uninitialized: [m, SlicedWasserstein.descriptorLength])
            var offset = 0
            for t in list { (all.data + offset).update(from: t.data, count: t.count); offset += t.count }
            SlicedWasserstein.normalize(all)
            return all
        }
        parts = levels.map { _ in [] }
        return out
    }
}

/// MS-SWD of two finalised descriptor sets (from `SWDDescriptors.finalized()`), directions
/// random from `seed` unless given (per level, per repeat, (147, K)).
public func slicedWassersteinDistance(descriptorsA: [Tensor], descriptorsB: [Tensor], resolutions: [Int],
                                      seed: UInt64 = 0, directions: [[Tensor]]? = nil) -> SWDResult {
    precondition(descriptorsA.count == descriptorsB.count && descriptorsA.count == resolutions.count, "MS-SWD: level counts differ")
    let dists = resolutions.indices.map { l in
        let dirs = directions?[l] ?? (0..<SlicedWasserstein.directionRepeats).map { SlicedWasserstein.randomDirections(seed: seed, level: l, repeat: $0) }
        return SlicedWasserstein.distance(descriptorsA[l], descriptorsB[l], directions: dirs) * 1e3
    }
    return SWDResult(resolutions: resolutions, distances: dists)
}

/// MS-SWD of two image sets (N, 3, R, R) of equal size held in memory. Set A's positions come
/// from `seed`, set B's from `seed + 1` (independent, as in ProGAN), the directions from `seed`.
/// `positionsA` / `positionsB` (per level, (N*128, 2)) and `directions` override the draws.
public func slicedWassersteinDistance(_ a: Tensor, _ b: Tensor, seed: UInt64 = 0,
                                      positionsA: [Tensor]? = nil, positionsB: [Tensor]? = nil,
                                      directions: [[Tensor]]? = nil) -> SWDResult {
    precondition(a.shape == b.shape, "MS-SWD: image sets \(a.shape) and \(b.shape) differ")
    let da = SWDDescriptors(resolution: a.shape[2], seed: seed)
    let db = SWDDescriptors(resolution: b.shape[2], seed: seed &+ 1)
    da.add(a, positions: positionsA)
    db.add(b, positions: positionsB)
    return slicedWassersteinDistance(descriptorsA: da.finalized(), descriptorsB: db.finalized(),
                                     resolutions: da.levels, seed: seed, directions: directions)
}
