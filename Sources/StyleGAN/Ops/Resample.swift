// FIR resampling (upfirdn2d): blur, nearest 2x upsampling and box 2x downsampling are one linear
// primitive with different filters, and its adjoint is the same primitive with the filter flipped
// and up / down swapped, so every derivative order comes from one kernel.
import CKernels

/// A 2-D FIR filter, applied depthwise. Values are used as given (gain included).
public struct FIRFilter: Equatable {
    public let height: Int, width: Int
    public let values: [Float]

    public init(_ values: [Float], height: Int, width: Int) {
        precondition(values.count == height * width && height > 0 && width > 0, "filter \(height)x\(width) with \(values.count) values")
        (self.values, self.height, self.width) = (values, height, width)
    }

    /// outer(k, k) / sum(k)^2 * gain: StyleGAN's separable blur filters ([1,2,1], [1,3,3,1]).
    public static func separable(_ k: [Float], gain: Float = 1) -> FIRFilter {
        let s = k.reduce(0, +)
        var v: [Float] = []
        for a in k { for b in k { v.append(a * b / (s * s) * gain) } }
        return FIRFilter(v, height: k.count, width: k.count)
    }

    /// The [1,2,1] blur of StyleGAN1 (normalised).
    public static let blur121 = separable([1, 2, 1])
    /// All ones over 2x2: with up 2, nearest-neighbour upsampling.
    public static let nearest2 = FIRFilter([1, 1, 1, 1], height: 2, width: 2)
    /// Mean over 2x2: with down 2, ProGAN's box downsampling.
    public static let box2 = FIRFilter([0.25, 0.25, 0.25, 0.25], height: 2, width: 2)

    var flipped: FIRFilter { FIRFilter(values.reversed(), height: height, width: width) }
}

/// Padding before / after along x and y (negative crops).
public struct Padding2D: Equatable {
    public var x0, x1, y0, y1: Int
    public init(x0: Int, x1: Int, y0: Int, y1: Int) { (self.x0, self.x1, self.y0, self.y1) = (x0, x1, y0, y1) }
    public init(_ p: Int) { self.init(x0: p, x1: p, y0: p, y1: p) }
}

/// Upsample by zero insertion, pad, correlate with `filter`, keep every `down`-th sample (see
/// resample.h for the exact indexing). x: (N, C, H, W).
public func upfirdn2d(_ x: Tensor, filter: FIRFilter, up: Int = 1, down: Int = 1, padding: Padding2D) -> Tensor {
    precondition(x.rank == 4, "upfirdn2d: input \(x.shape) must be (N, C, H, W)")
    precondition(up >= 1 && down >= 1, "upfirdn2d: up \(up), down \(down)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = (h * up + padding.y0 + padding.y1 - filter.height) / down + 1
    let ow = (w * up + padding.x0 + padding.x1 - filter.width) / down + 1
    precondition(h * up + padding.y0 + padding.y1 >= filter.height && w * up + padding.x0 + padding.x1 >= filter.width,
                 "upfirdn2d: filter \(filter.height)x\(filter.width) larger than the padded \(h)x\(w) input")
    let y = Tensor.run([n, c, oh, ow]) {
        upfirdn2d($0, x.data, filter.values, Int32(n * c), Int32(h), Int32(w), Int32(filter.height), Int32(filter.width),
                  Int32(up), Int32(down), Int32(padding.x0), Int32(padding.x1), Int32(padding.y0), Int32(padding.y1))
    }
    return record(y, "upfirdn2d", [x]) { g, _ in
        // The adjoint: swap up and down, flip the filter, and pad so the output is exactly x's size.
        let adj = Padding2D(
            x0: filter.width - padding.x0 - 1, x1: w * up - ow * down + padding.x0 - up + 1,
            y0: filter.height - padding.y0 - 1, y1: h * up - oh * down + padding.y0 - up + 1)
        return [upfirdn2d(g, filter: filter.flipped, up: down, down: up, padding: adj)]
    }
}

extension Tensor {
    /// StyleGAN1's blur: the normalised [1,2,1] filter, same size out.
    public func blurred(_ filter: FIRFilter = .blur121) -> Tensor {
        let p0 = (filter.width - 1) / 2, p1 = filter.width - 1 - p0
        let q0 = (filter.height - 1) / 2, q1 = filter.height - 1 - q0
        return upfirdn2d(self, filter: filter, padding: Padding2D(x0: p0, x1: p1, y0: q0, y1: q1))
    }

    /// Nearest-neighbour 2x upsampling (ProGAN's upscale2d).
    public func upsampled2x() -> Tensor {
        upfirdn2d(self, filter: .nearest2, up: 2, padding: Padding2D(x0: 1, x1: 0, y0: 1, y1: 0))
    }

    /// 2x2 mean pooling (ProGAN's downscale2d).
    public func downsampled2x() -> Tensor {
        upfirdn2d(self, filter: .box2, down: 2, padding: Padding2D(0))
    }

    /// (N, 4C, H, W) -> (N, C, 2H, 2W), channel 4c + 2a + b becoming pixels (2y + a, 2x + b) of
    /// channel c (PyTorch's pixel_shuffle with factor 2).
    public func pixelShuffled2x() -> Tensor {
        precondition(rank == 4 && shape[1] % 4 == 0, "pixelShuffled2x: input \(shape) must be (N, 4C, H, W)")
        let (n, c, h, w) = (shape[0], shape[1] / 4, shape[2], shape[3])
        let y = Tensor.run([n, c, 2 * h, 2 * w]) { pixel_shuffle2($0, data, Int32(n * c), Int32(h), Int32(w), 0) }
        return record(y, "pixelShuffled2x", [self]) { g, _ in [g.pixelUnshuffled2x()] }
    }

    /// The inverse (and adjoint) of `pixelShuffled2x`: (N, C, 2H, 2W) -> (N, 4C, H, W).
    public func pixelUnshuffled2x() -> Tensor {
        precondition(rank == 4 && shape[2] % 2 == 0 && shape[3] % 2 == 0, "pixelUnshuffled2x: input \(shape) must be (N, C, 2H, 2W)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2] / 2, shape[3] / 2)
        let x = Tensor.run([n, 4 * c, h, w]) { pixel_shuffle2(data, $0, Int32(n * c), Int32(h), Int32(w), 1) }
        return record(x, "pixelUnshuffled2x", [self]) { g, _ in [g.pixelShuffled2x()] }
    }
}
