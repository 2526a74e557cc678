// ADA (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"): the
// 'bgc' augmentation pipeline every image D sees goes through, with one probability p for all its
// operations, as NVlabs' stylegan2-ada-pytorch AugmentPipe: pixel blitting (x-flip, 90° rotations,
// integer translation) and general geometric transforms (isotropic scale, rotation, anisotropic
// scale, fractional translation) as one inverse affine executed once (reflect padding, 2x
// upsampling with the sym6 wavelet filter, bilinear sampling, sym6 downsampling), then colour
// (brightness, contrast, luma flip, hue, saturation) as one 4x4 matrix. Every step is linear in
// the image, so gradients reach G and R1 differentiates through it.
import Foundation
import StyleGAN

public struct AugmentPipe: Equatable {
    /// The overall probability multiplier (ADA adjusts it).
    public var p: Float

    // NVlabs' 'bgc' settings: every multiplier 1, their default ranges.
    static let xintMax = 0.125, scaleStd = 0.2, rotateMax = 1.0, anisoStd = 0.2, xfracStd = 0.125
    static let brightnessStd = 0.2, contrastStd = 0.5, hueMax = 1.0, saturationStd = 1.0

    public init(p: Float) { self.p = p }

    /// One sample's draw: the value of each operation (its identity when not applied).
    public struct Draw: Equatable {
        public var xflip = 0, rotate90 = 0
        public var xint = SIMD2<Double>(0, 0)       // pixels (integers)
        public var scale = 1.0, preRotation = 0.0, aniso = 1.0, postRotation = 0.0
        public var xfrac = SIMD2<Double>(0, 0)      // fractions of the size
        public var brightness = 0.0, contrast = 1.0, lumaflip = 0, hue = 0.0, saturation = 1.0
        public init() {}
    }

    /// Draws for samples `samples` of a batch of `batch`, from Philox (seed, stream, stream + 1, step):
    /// each operation is applied with probability p (rotation: before or after the anisotropic
    /// scaling, each with 1 - sqrt(1 - p), so that either happens with p).
    public func draws(batch: Int, samples: [Int], size: (width: Int, height: Int), seed: UInt64, stream: UInt32, step: UInt32) -> [Draw] {
        let u = Tensor(randomUniform: [batch, 21], rows: samples, seed: seed, stream: stream, step: step).scalars
        let z = Tensor(randomNormal: [batch, 7], rows: samples, seed: seed, stream: stream + 1, step: step).scalars
        let p = Double(self.p)
        let pRot = 1 - (min(max(1 - p, 0), 1)).squareRoot()
        return samples.indices.map { k in
            let u = u[k * 21..<(k + 1) * 21].map(Double.init), z = z[k * 7..<(k + 1) * 7].map(Double.init)
            let hit = { (i: Int, q: Double) in u[i] < q }
            var d = Draw()
            if hit(1, p) { d.xflip = Int((u[0] * 2).rounded(.down)) }
            if hit(3, p) { d.rotate90 = Int((u[2] * 4).rounded(.down)) }
            if hit(6, p) {
                d.xint = SIMD2(((u[4] * 2 - 1) * Self.xintMax * Double(size.width)).rounded(.toNearestOrEven),
                          ((u[5] * 2 - 1) * Self.xintMax * Double(size.height)).rounded(.toNearestOrEven))
            }
            if hit(7, p) { d.scale = exp2(z[0] * Self.scaleStd) }
            if hit(9, pRot) { d.preRotation = (u[8] * 2 - 1) * .pi * Self.rotateMax }
            if hit(10, p) { d.aniso = exp2(z[1] * Self.anisoStd) }
            if hit(12, pRot) { d.postRotation = (u[11] * 2 - 1) * .pi * Self.rotateMax }
            if hit(13, p) { d.xfrac = SIMD2(z[2], z[3]) * Self.xfracStd }
            if hit(14, p) { d.brightness = z[4] * Self.brightnessStd }
            if hit(15, p) { d.contrast = exp2(z[5] * Self.contrastStd) }
            if hit(17, p) { d.lumaflip = Int((u[16] * 2).rounded(.down)) }
            if hit(19, p) { d.hue = (u[18] * 2 - 1) * .pi * Self.hueMax }
            if hit(20, p) { d.saturation = exp2(z[6] * Self.saturationStd) }
            return d
        }
    }

    /// G⁻¹: output pixel -> input pixel, in pixels from the image centre (3x3, row-major).
    public static func geometric(_ d: Draw, width: Int, height: Int) -> Matrix3 {
        [Matrix3.scale(1 / Double(1 - 2 * d.xflip), 1), .rotation(Double.pi / 2 * Double(d.rotate90)), .translation(-d.xint.x, -d.xint.y),
         .scale(1 / d.scale, 1 / d.scale), .rotation(d.preRotation), .scale(1 / d.aniso, d.aniso), .rotation(d.postRotation),
         .translation(-d.xfrac.x * Double(width), -d.xfrac.y * Double(height))].reduce(Matrix3.identity, *)
    }

    /// The colour transform C (4x4, row-major, homogeneous RGB): colour_out = C colour_in.
    public static func colour(_ d: Draw) -> [Double] {
        let v = [1, 1, 1, 0].map { $0 / 3.0.squareRoot() }  // the luma axis
        let vv = (0..<16).map { v[$0 / 4] * v[$0 % 4] }
        let eye = (0..<16).map { $0 / 4 == $0 % 4 ? 1.0 : 0 }
        // Rotation by `hue` about v (Rodrigues): cos·I + sin·[v]× + (1 - cos)·v vᵀ on RGB.
        let (s, co) = (sin(d.hue), cos(d.hue))
        let cross: [Double] = [0, -v[2], v[1], v[2], 0, -v[0], -v[1], v[0], 0]
        var hue = eye
        for r in 0..<3 {
            for k in 0..<3 { hue[r * 4 + k] = (r == k ? co : 0) + s * cross[r * 3 + k] + (1 - co) * v[r] * v[k] }
        }
        // Brightness, contrast, luma flip, hue, saturation, each applied after the ones before.
        let steps: [[Double]] = [[1, 0, 0, d.brightness, 0, 1, 0, d.brightness, 0, 0, 1, d.brightness, 0, 0, 0, 1],
                                 [d.contrast, 0, 0, 0, 0, d.contrast, 0, 0, 0, 0, d.contrast, 0, 0, 0, 0, 1],
                                 (0..<16).map { eye[$0] - 2 * vv[$0] * Double(d.lumaflip) }, hue,
                                 (0..<16).map { vv[$0] + (eye[$0] - vv[$0]) * d.saturation }]
        return steps.reduce(eye) { squareProduct($1, $0, n: 4) }
    }

    /// sym6, the orthogonal low-pass filter of the geometric resampling (normalised to sum 1).
    static let sym6: [Float] = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
                                0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
                                -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]
    static let up = FIRFilter.separable(sym6.reversed(), gain: 4)  // a convolution: the filter flipped for our correlation
    static let down = FIRFilter.separable(sym6)
    static let filterPad = sym6.count / 4

    /// The images (N, 3, H, W) in [-1, 1] under `draws` (one per sample). p = 0: the input itself.
    public func apply(_ images: Tensor, draws: [Draw]) -> Tensor {
        guard p > 0 else { return images }
        precondition(images.rank == 4 && images.shape[1] == 3 && draws.count == images.shape[0], "augment: \(draws.count) draws for \(images.shape)")
        let (h, w) = (images.shape[2], images.shape[3])
        let geometric = Self.executeGeometric(images, draws.map { Self.geometric($0, width: w, height: h) })
        // Colour: colour_out = C[:3, :3] colour_in + C[:3, 3] for each sample's C.
        return channelMix(geometric, matrices: draws.flatMap { Self.colour($0)[0..<12].map(Float.init) })
    }

    /// The inverse transforms executed as NVlabs do: pad by reflection so every sampled point has
    /// data, upsample 2x with sym6, sample bilinearly, downsample 2x with sym6 (cropping the pad).
    public static func executeGeometric(_ images: Tensor, _ gInv: [Matrix3]) -> Tensor {
        let (h, w) = (images.shape[2], images.shape[3])
        let (cx, cy) = (Double(w - 1) / 2, Double(h - 1) / 2)
        var margin = [-Double.infinity, -.infinity, -.infinity, -.infinity]  // x0, y0, x1, y1
        for g in gInv {
            for (px, py) in [(-cx, -cy), (cx, -cy), (cx, cy), (-cx, cy)] {
                let (x, y) = g.apply(px, py)
                margin = [max(margin[0], -x), max(margin[1], -y), max(margin[2], x), max(margin[3], y)]
            }
        }
        let fp = Double(filterPad * 2)
        let pad = zip(margin, [fp - cx, fp - cy, fp - cx, fp - cy]).enumerated().map { i, mo in
            Int(min(max(mo.0 + mo.1, 0), Double(i % 2 == 0 ? w - 1 : h - 1)).rounded(.up))
        }
        let (mx0, my0, mx1, my1) = (pad[0], pad[1], pad[2], pad[3])
        var x = reflectPad(images, Padding2D(x0: mx0, x1: mx1, y0: my0, y1: my1))
        x = upfirdn2d(x, filter: up, up: 2, padding: Padding2D(x0: 6, x1: 5, y0: 6, y1: 5))
        let (oh, ow) = ((h + filterPad * 2) * 2, (w + filterPad * 2) * 2)
        let (uh, uw) = (Double(x.shape[2]), Double(x.shape[3]))
        var theta: [Float] = []
        for g in gInv {
            var m = Matrix3.translation(Double(mx0 - mx1) / 2, Double(my0 - my1) / 2) * g
            m = Matrix3.scale(2, 2) * m * .scale(0.5, 0.5)
            m = Matrix3.translation(-0.5, -0.5) * m * .translation(0.5, 0.5)
            m = Matrix3.scale(2 / uw, 2 / uh) * m * .scale(Double(ow) / 2, Double(oh) / 2)
            theta += m.values[0..<6].map(Float.init)
        }
        x = gridSampleAffine(x, theta: theta, height: oh, width: ow)
        return upfirdn2d(x, filter: down, down: 2, padding: Padding2D(x0: -1, x1: -1, y0: -1, y1: -1))
    }
}

/// a b of two n x n row-major matrices.
private func squareProduct(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
    var out = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { for k in 0..<n { out[i * n + j] += a[i * n + k] * b[k * n + j] } } }
    return out
}

/// A 3x3 row-major matrix of homogeneous 2-D coordinates.
public struct Matrix3: Equatable {
    public var values: [Double]
    public static let identity = Matrix3(values: [1, 0, 0, 0, 1, 0, 0, 0, 1])
    public static func translation(_ tx: Double, _ ty: Double) -> Matrix3 { Matrix3(values: [1, 0, tx, 0, 1, ty, 0, 0, 1]) }
    public static func scale(_ sx: Double, _ sy: Double) -> Matrix3 { Matrix3(values: [sx, 0, 0, 0, sy, 0, 0, 0, 1]) }
    public static func rotation(_ t: Double) -> Matrix3 { Matrix3(values: [cos(t), -sin(t), 0, sin(t), cos(t), 0, 0, 0, 1]) }
    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 { Matrix3(values: squareProduct(a.values, b.values, n: 3)) }
    func apply(_ x: Double, _ y: Double) -> (Double, Double) {
        (values[0] * x + values[1] * y + values[2], values[3] * x + values[4] * y + values[5])
    }
}

/// How a run sets p: not at all, fixed, or by ADA's controller.
public enum AugmentMode: Equatable {
    case none, fixed
    /// p moves by sign(r_t - target) x (images in the interval) / (kimg x 1000) every `interval` steps.
    case ada(target: Float, kimg: Double)

    /// Steps between adjustments (NVlabs' ada_interval).
    public static let interval = 4

    public init(name: String, target: Float, kimg: Double) throws {
        switch name {
        case "none": self = .none
        case "fixed": self = .fixed
        case "ada":
            guard target > 0 && target < 1 else { throw StyleGANError.training("--ada-target \(target): must be between 0 and 1") }
            guard kimg > 0 else { throw StyleGANError.training("--ada-kimg must be positive") }
            self = .ada(target: target, kimg: kimg)
        default: throw StyleGANError.training("--aug '\(name)': expected none, fixed or ada")
        }
    }

    public var name: String {
        switch self { case .none: "none"; case .fixed: "fixed"; case .ada: "ada" }
    }

    /// ADA's update of p after the steps whose mean sign(D(reals)) is `rt`, `images` images in all.
    public func adjusted(_ p: Float, rt: Double, images: Int) -> Float {
        guard case let .ada(target, kimg) = self else { return p }
        let direction: Double = rt > Double(target) ? 1 : rt < Double(target) ? -1 : 0
        return max(0, Float(Double(p) + direction * Double(images) / (kimg * 1000)))
    }
}
