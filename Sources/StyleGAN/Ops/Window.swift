// Pooling and bilinear resizing for feature networks (Inception), with their derivatives (for a
// perceptual distance): the average pool and the resize are linear, their backward is their
// adjoint and its derivative the op again, so every order follows; the max pool's gradient routes
// dy to each window's maximum and has no derivative of its own.
import CKernels

extension Tensor {
    private func planes(_ op: String) -> (p: Int, h: Int, w: Int) {
        precondition(rank == 4, "\(op): input \(shape) must be (N, C, H, W)")
        return (shape[0] * shape[1], shape[2], shape[3])
    }

    private func windowGeometry(_ op: String, k: Int, stride s: Int, padding p: Int) -> (planes: Int, h: Int, w: Int, oh: Int, ow: Int) {
        let (planes, h, w) = planes(op)
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
        precondition(oh >= 1 && ow >= 1 && p < k, "\(op): window \(k), stride \(s), padding \(p) on \(h)x\(w)")
        return (planes, h, w, oh, ow)
    }

    /// Max over k x k windows (padding never wins).
    public func maxPooled(_ k: Int, stride: Int, padding: Int = 0) -> Tensor {
        let g = windowGeometry("maxPooled", k: k, stride: stride, padding: padding)
        let y = Tensor.run([shape[0], shape[1], g.oh, g.ow]) { max_pool2d($0, data, Int32(g.planes), Int32(g.h), Int32(g.w), Int32(k), Int32(stride), Int32(padding)) }
        let x = detached(), inShape = shape
        return record(y, "maxPooled", [self]) { dy, _ in
            let dx = Tensor.run(inShape) { max_pool2d_backward($0, dy.data, x.data, Int32(g.planes), Int32(g.h), Int32(g.w), Int32(k), Int32(stride), Int32(padding)) }
            return [record(dx, "maxPooledGrad", [dy]) { _, _ in fatalError("maxPooled: no second derivative") }]
        }
    }

    /// Mean over k x k windows, of the pixels inside the image (count_include_pad=False).
    public func avgPooled(_ k: Int, stride: Int, padding: Int = 0) -> Tensor {
        let g = windowGeometry("avgPooled", k: k, stride: stride, padding: padding)
        let y = Tensor.run([shape[0], shape[1], g.oh, g.ow]) { avg_pool2d($0, data, Int32(g.planes), Int32(g.h), Int32(g.w), Int32(k), Int32(stride), Int32(padding)) }
        let inShape = shape
        return record(y, "avgPooled", [self]) { dy, _ in [dy.avgPoolAdjoint(k, stride: stride, padding: padding, inputShape: inShape)] }
    }

    /// The adjoint of `avgPooled` (its input gradient), itself differentiable.
    func avgPoolAdjoint(_ k: Int, stride: Int, padding: Int, inputShape: [Int]) -> Tensor {
        let (planes, h, w) = (inputShape[0] * inputShape[1], inputShape[2], inputShape[3])
        let dx = Tensor.run(inputShape) { avg_pool2d_backward($0, data, Int32(planes), Int32(h), Int32(w), Int32(k), Int32(stride), Int32(padding)) }
        return record(dx, "avgPoolAdjoint", [self]) { g, _ in [g.avgPooled(k, stride: stride, padding: padding)] }
    }

    /// Bilinear resize to (height, width), no antialiasing: with half-pixel centres (PyTorch's
    /// align_corners=False), or without (TF1's resize_bilinear, as the FID network was fed).
    public func resizedBilinear(height oh: Int, width ow: Int, halfPixelCentres: Bool = true) -> Tensor {
        let (planes, h, w) = planes("resizedBilinear")
        precondition(oh >= 1 && ow >= 1, "resizedBilinear to \(oh)x\(ow)")
        let y = Tensor.run([shape[0], shape[1], oh, ow]) { resize_bilinear($0, data, Int32(planes), Int32(h), Int32(w), Int32(oh), Int32(ow), halfPixelCentres ? 1 : 0) }
        let inShape = shape
        return record(y, "resizedBilinear", [self]) { dy, _ in [dy.resizeAdjoint(inputShape: inShape, halfPixelCentres: halfPixelCentres)] }
    }

    /// The adjoint of `resizedBilinear` (its input gradient), itself differentiable.
    func resizeAdjoint(inputShape: [Int], halfPixelCentres: Bool) -> Tensor {
        let (planes, h, w) = (inputShape[0] * inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (shape[2], shape[3])
        let dx = Tensor.run(inputShape) { resize_bilinear_backward($0, data, Int32(planes), Int32(h), Int32(w), Int32(oh), Int32(ow), halfPixelCentres ? 1 : 0) }
        return record(dx, "resizeAdjoint", [self]) { g, _ in [g.resizedBilinear(height: oh, width: ow, halfPixelCentres: halfPixelCentres)] }
    }
}
