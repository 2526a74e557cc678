// Pooling and bilinear resizing for feature networks (Inception): forward only, so they refuse
// an input whose gradient is being recorded instead of silently cutting the graph.
import CKernels

extension Tensor {
    private func planes(_ op: String) -> (p: Int, h: Int, w: Int) {
        precondition(rank == 4, "\(op): input \(shape) must be (N, C, H, W)")
        precondition(!(GradMode.enabled && requiresGrad), "\(op) has no derivative: run it without gradient")
        return (shape[0] * shape[1], shape[2], shape[3])
    }

    private func pooled(_ op: String, k: Int, stride s: Int, padding p: Int,
                        _ kernel: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int32, Int32, Int32, Int32, Int32, Int32) -> Void) -> Tensor {
        let (planes, h, w) = planes(op)
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
        precondition(oh >= 1 && ow >= 1 && p < k, "\(op): window \(k), stride \(s), padding \(p) on \(h)x\(w)")
        Kernels.ensure()
        let y = Tensor(uninitialized: [shape[0], shape[1], oh, ow])
        kernel(y.data, data, Int32(planes), Int32(h), Int32(w), Int32(k), Int32(s), Int32(p))
        return y
    }

    /// Max over k x k windows (padding never wins).
    public func maxPooled(_ k: Int, stride: Int, padding: Int = 0) -> Tensor {
        pooled("maxPooled", k: k, stride: stride, padding: padding) { max_pool2d($0, $1, $2, $3, $4, $5, $6, $7) }
    }

    /// Mean over k x k windows, of the pixels inside the image (count_include_pad=False).
    public func avgPooled(_ k: Int, stride: Int, padding: Int = 0) -> Tensor {
        pooled("avgPooled", k: k, stride: stride, padding: padding) { avg_pool2d($0, $1, $2, $3, $4, $5, $6, $7) }
    }

    /// Bilinear resize to (height, width), no antialiasing: with half-pixel centres (PyTorch's
    /// align_corners=False), or without (TF1's resize_bilinear, as the FID network was fed).
    public func resizedBilinear(height oh: Int, width ow: Int, halfPixelCentres: Bool = true) -> Tensor {
        let (planes, h, w) = planes("resizedBilinear")
        precondition(oh >= 1 && ow >= 1, "resizedBilinear to \(oh)x\(ow)")
        Kernels.ensure()
        let y = Tensor(uninitialized: [shape[0], shape[1], oh, ow])
        resize_bilinear(y.data, data, Int32(planes), Int32(h), Int32(w), Int32(oh), Int32(ow), halfPixelCentres ? 1 : 0)
        return y
    }
}
