// Winograd F(4x4, 3x3): the three entry points against the naive conv2d twins, on image sizes that
// are and are not multiples of the 4x4 tile, one tile and many blocks of tiles, and StyleGAN's
// widest layer (512 channels), where the transforms' rounding is largest. The measured error is
// printed; the tolerance is stated below.
import CKernels
import CKernelsReference
import Testing

/// Relative to the largest |reference| value. F(4x4, 3x3) rounds more than a direct sum (its
/// transforms scale by up to 8 and 1/24): measured up to 1.03e-5 at 512 channels, against ~2e-7
/// for im2col + sgemm. 5e-5 leaves room for other BLAS builds and still catches any wrong tap.
private let winogradTolerance = 5e-5

private typealias WinogradFn = (UnsafeMutablePointer<Float>?, UnsafePointer<Float>?,
                                UnsafePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Float) -> Void

private func call(_ f: WinogradFn, _ c: ConvCase, _ a: [Float], _ b: [Float], count: Int, gain: Float = 1) -> [Float] {
    var out = [Float](repeating: .nan, count: count)
    f(&out, a, b, Int32(c.n), Int32(c.cin), Int32(c.h), Int32(c.w), Int32(c.cout), gain)
    return out
}

private func reference(_ f: (UnsafeMutablePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?,
                             Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) -> Void,
                       _ c: ConvCase, _ a: [Float], _ b: [Float], count: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: count)
    f(&out, a, b, Int32(c.n), Int32(c.cin), Int32(c.h), Int32(c.w), Int32(c.cout), 3, 3, 1, 1)
    return out
}

@Test(arguments: [
    ConvCase(n: 1, cin: 1, h: 1, w: 1, cout: 1, k: 3, stride: 1, pad: 1),
    ConvCase(n: 2, cin: 3, h: 5, w: 7, cout: 4, k: 3, stride: 1, pad: 1),
    ConvCase(n: 3, cin: 5, h: 4, w: 4, cout: 2, k: 3, stride: 1, pad: 1),
    ConvCase(n: 2, cin: 6, h: 9, w: 13, cout: 7, k: 3, stride: 1, pad: 1),
    ConvCase(n: 8, cin: 16, h: 32, w: 32, cout: 8, k: 3, stride: 1, pad: 1),
    ConvCase(n: 4, cin: 512, h: 8, w: 8, cout: 512, k: 3, stride: 1, pad: 1),
    // Few tiles: the weight gradient's blocked path, with partial blocks of channel pairs (30 =
    // 2 x 12 + 6 rows, 200 = 128 + 72 columns) and partial 16-lane groups.
    ConvCase(n: 2, cin: 200, h: 8, w: 8, cout: 30, k: 3, stride: 1, pad: 1),
    ConvCase(n: 3, cin: 20, h: 96, w: 100, cout: 20, k: 3, stride: 1, pad: 1),
    // More tiles than one block holds (6M floats / (36 x 640) = 273 tiles per block), the last
    // block partial.
    ConvCase(n: 5, cin: 384, h: 30, w: 31, cout: 256, k: 3, stride: 1, pad: 1),
])
func winogradMatchesReference(_ c: ConvCase) {
    let x = randomArray(count: c.xCount, seed: UInt64(c.h * 31 + c.cin))
    let w = randomArray(count: c.wCount, seed: UInt64(c.w * 17 + c.cout))
    let dy = randomArray(count: c.yCount, seed: UInt64(c.n * 13 + 5))
    // The weight used as gain * w: the gain is folded into the transforms.
    let gain: Float = c.cin % 2 == 0 ? 0.37 : 1
    let scaled = { (r: [Float]) in r.map { $0 * gain } }
    let errors = [
        maxRelDifference(call(winograd3x3_forward, c, x, w, count: c.yCount, gain: gain),
                         scaled(reference(conv2d_forward_ref, c, x, w, count: c.yCount))),
        maxRelDifference(call(winograd3x3_backward_input, c, dy, w, count: c.xCount, gain: gain),
                         scaled(reference(conv2d_backward_input_ref, c, dy, w, count: c.xCount))),
        maxRelDifference(call(winograd3x3_backward_weight, c, dy, x, count: c.wCount, gain: gain),
                         scaled(reference(conv2d_backward_weight_ref, c, dy, x, count: c.wCount))),
    ]
    print("winograd \(c.testDescription) gain \(gain): max rel diff forward \(errors[0]), input grad \(errors[1]), weight grad \(errors[2])")
    for (name, e) in zip(["forward", "backward_input", "backward_weight"], errors) {
        #expect(e <= winogradTolerance, "\(name) \(c.testDescription): \(e)")
    }
}

/// conv2d_* route 3x3 / stride 1 / pad 1 here only when enabled and large enough; the switch
/// must not change what they compute beyond rounding.
@Test func winogradRoutingAgreesWithIm2col() {
    let c = ConvCase(n: 4, cin: 8, h: 12, w: 12, cout: 6, k: 3, stride: 1, pad: 1)
    #expect(winograd3x3_used(4, 8, 12, 12, 6) == 1)
    #expect(winograd3x3_used(1, 8, 4, 4, 6) == 0)
    let x = randomArray(count: c.xCount, seed: 3), w = randomArray(count: c.wCount, seed: 4)
    let viaRouting = reference({ conv2d_forward($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0.5) }, c, x, w,
                               count: c.yCount)
    let direct = call(winograd3x3_forward, c, x, w, count: c.yCount, gain: 0.5)
    #expect(viaRouting == direct)
}
