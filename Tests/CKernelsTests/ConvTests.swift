// conv2d: the im2col + sgemm kernels against their naive twins on random data, over kernel sizes,
// strides, paddings, odd image sizes and both chunk layouts (batched small images, per-sample large
// ones), plus the adjoint identity that ties forward and both gradients together.
import CKernels
import CKernelsReference
import Testing

struct ConvCase: Sendable, CustomTestStringConvertible {
    var n, cin, h, w, cout, k, stride, pad: Int
    var oh: Int { (h + 2 * pad - k) / stride + 1 }
    var ow: Int { (w + 2 * pad - k) / stride + 1 }
    var xCount: Int { n * cin * h * w }
    var wCount: Int { cout * cin * k * k }
    var yCount: Int { n * cout * oh * ow }
    var testDescription: String {
        "N\(n) \(cin)->\(cout) \(h)x\(w) k\(k) s\(stride) p\(pad)"
    }
}

/// Scale-free tolerance against the double-accumulating references: float sums over K terms.
private let convTolerance = 1e-4

private typealias ConvFn = (UnsafeMutablePointer<Float>?, UnsafePointer<Float>?,
                            UnsafePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Int32,
                            Int32, Int32, Int32) -> Void

/// The fast entry points, which use the weight as gain * w.
private typealias GainConvFn = (UnsafeMutablePointer<Float>?, UnsafePointer<Float>?,
                                UnsafePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Int32,
                                Int32, Int32, Int32, Float) -> Void

/// Calls one conv2d entry point for shape `c`, returning its output of `count` floats.
/// The output starts as NaN so that anything the kernel fails to overwrite shows.
private func run(_ f: ConvFn, _ c: ConvCase, _ a: [Float], _ b: [Float], count: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: count)
    f(&out, a, b, Int32(c.n), Int32(c.cin), Int32(c.h), Int32(c.w), Int32(c.cout), Int32(c.k),
      Int32(c.k), Int32(c.stride), Int32(c.pad))
    return out
}

private func run(_ f: GainConvFn, gain: Float = 1, _ c: ConvCase, _ a: [Float], _ b: [Float], count: Int) -> [Float] {
    run({ f($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, gain) }, c, a, b, count: count)
}

private func checkAgainstReference(_ c: ConvCase, seed: UInt64) {
    let x = randomArray(count: c.xCount, seed: seed)
    let w = randomArray(count: c.wCount, seed: seed + 1)
    let dy = randomArray(count: c.yCount, seed: seed + 2)

    // Every other case with the weight used as 0.37 w (the products' alpha).
    let gain: Float = seed % 2 == 0 ? 0.37 : 1
    let scaled = { (r: [Float]) in r.map { $0 * gain } }
    let y = run(conv2d_forward, gain: gain, c, x, w, count: c.yCount)
    let yRef = scaled(run(conv2d_forward_ref, c, x, w, count: c.yCount))
    let dx = run(conv2d_backward_input, gain: gain, c, dy, w, count: c.xCount)
    let dxRef = scaled(run(conv2d_backward_input_ref, c, dy, w, count: c.xCount))
    let dw = run(conv2d_backward_weight, gain: gain, c, dy, x, count: c.wCount)
    let dwRef = scaled(run(conv2d_backward_weight_ref, c, dy, x, count: c.wCount))

    let errors = [maxRelDifference(y, yRef), maxRelDifference(dx, dxRef),
                  maxRelDifference(dw, dwRef)]
    print("conv2d \(c.testDescription) gain \(gain): max rel diff forward \(errors[0]), "
          + "input grad \(errors[1]), weight grad \(errors[2])")
    for (name, e) in zip(["forward", "backward_input", "backward_weight"], errors) {
        #expect(e <= convTolerance, "\(name) \(c.testDescription): \(e)")
    }
}

/// Small odd images: every kernel size, stride and padding, batch 1 and 3, Cin != Cout. These all
/// take the batched layout.
private let smallCases: [ConvCase] = [1, 3, 4].flatMap { k in
    [1, 2].flatMap { s in
        [0, 1].flatMap { p in
            [1, 3].map { n in ConvCase(n: n, cin: 3, h: 5, w: 7, cout: 4, k: k, stride: s, pad: p) }
        }
    }
}

@Test(arguments: smallCases)
func convMatchesReferenceSmall(_ c: ConvCase) {
    checkAgainstReference(c, seed: UInt64(c.k * 100 + c.stride * 10 + c.pad + c.n * 1000))
}

/// Shapes that reach the other code paths: per-sample GEMMs (>= 256 output pixels, and >= 4096
/// for the weight gradient), a 1x1 conv that skips im2col, a sample too large for one column
/// chunk (300*9*40*40 floats > 16 MB), several batched chunks, a kernel larger than the image and
/// a stride larger than the kernel.
private let pathCases: [ConvCase] = [
    ConvCase(n: 2, cin: 8, h: 16, w: 16, cout: 6, k: 3, stride: 1, pad: 1),
    ConvCase(n: 2, cin: 3, h: 64, w: 65, cout: 2, k: 3, stride: 1, pad: 1),
    ConvCase(n: 2, cin: 2, h: 130, w: 129, cout: 3, k: 4, stride: 2, pad: 1),
    ConvCase(n: 2, cin: 5, h: 33, w: 17, cout: 3, k: 3, stride: 2, pad: 1),
    ConvCase(n: 2, cin: 4, h: 16, w: 17, cout: 3, k: 1, stride: 1, pad: 0),
    ConvCase(n: 3, cin: 4, h: 4, w: 4, cout: 5, k: 1, stride: 1, pad: 0),
    ConvCase(n: 1, cin: 300, h: 40, w: 40, cout: 2, k: 3, stride: 1, pad: 1),
    ConvCase(n: 20, cin: 300, h: 10, w: 10, cout: 2, k: 3, stride: 1, pad: 1),
    ConvCase(n: 1, cin: 2, h: 3, w: 3, cout: 2, k: 5, stride: 1, pad: 2),
    ConvCase(n: 1, cin: 2, h: 3, w: 4, cout: 2, k: 1, stride: 3, pad: 0),
]

@Test(arguments: pathCases)
func convMatchesReferenceLayouts(_ c: ConvCase) {
    checkAgainstReference(c, seed: UInt64(c.cin * 7 + c.h))
}

/// backward_input with stride 2, a 4x4 kernel and padding 1 is the transposed conv that upsamples
/// 2x: dy of (h, w) maps onto dx of (2h, 2w).
@Test func transposedConvUpsamples2x() {
    let c = ConvCase(n: 3, cin: 5, h: 10, w: 14, cout: 6, k: 4, stride: 2, pad: 1)
    #expect(c.oh == 5 && c.ow == 7)
    let dy = randomArray(count: c.yCount, seed: 41)
    let w = randomArray(count: c.wCount, seed: 42)
    let up = run(conv2d_backward_input, c, dy, w, count: c.xCount)
    let upRef = run(conv2d_backward_input_ref, c, dy, w, count: c.xCount)
    let e = maxRelDifference(up, upRef)
    print("conv2d transposed 2x \(c.testDescription): max rel diff \(e)")
    #expect(e <= convTolerance)
    #expect(!up.contains { $0.isNaN })
}

/// <conv(x, w), dy> = <x, backward_input(dy, w)> = <w, backward_weight(dy, x)>: the gradients are
/// the adjoints of the forward, checked without any reference code.
@Test(arguments: [
    ConvCase(n: 2, cin: 3, h: 9, w: 7, cout: 4, k: 3, stride: 1, pad: 1),
    ConvCase(n: 3, cin: 4, h: 8, w: 6, cout: 2, k: 4, stride: 2, pad: 1),
    ConvCase(n: 1, cin: 5, h: 17, w: 16, cout: 3, k: 3, stride: 2, pad: 0),
])
func convAdjoint(_ c: ConvCase) {
    let x = randomArray(count: c.xCount, seed: 7)
    let w = randomArray(count: c.wCount, seed: 8)
    let dy = randomArray(count: c.yCount, seed: 9)
    let y = run(conv2d_forward, gain: 0.37, c, x, w, count: c.yCount)
    let dx = run(conv2d_backward_input, gain: 0.37, c, dy, w, count: c.xCount)
    let dw = run(conv2d_backward_weight, gain: 0.37, c, dy, x, count: c.wCount)
    let a = dot(y, dy), b = dot(x, dx), d = dot(w, dw)
    // Float rounding moves each product by a small fraction of |u| |v| (Cauchy-Schwarz bound).
    let scale = (dot(y, y) * dot(dy, dy)).squareRoot()
    let e = max(abs(a - b), abs(a - d)) / scale
    print("conv2d adjoint \(c.testDescription): <y,dy> \(a) <x,dx> \(b) <w,dw> \(d), rel diff \(e)")
    #expect(e <= 1e-5)
}
