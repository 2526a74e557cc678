// Data parallelism over a Collective: which samples of a global minibatch a rank computes, the
// gradient mean over ranks through one fused buffer, and a checksum that ranks compare to prove
// they hold the same state.
import CKernels
import Foundation
import StyleGAN

/// The samples of a global minibatch that rank `rank` of `size` computes: every size-th one from
/// its rank. Strided, not contiguous, because minibatch stddev puts sample i * m + j in group j
/// (NVlabs' layout, m = batch / group size): then a rank's shard holds whole groups of the global
/// batch (groups rank, rank + size, ...) in their order, and N ranks form exactly the groups
/// that one process forms on the whole batch.
public struct Shard: Equatable {
    public let rank: Int, size: Int
    public static let whole = Shard(rank: 0, size: 1)

    public init(rank: Int, size: Int) {
        precondition(size >= 1 && (0..<size).contains(rank), "Shard: rank \(rank) of \(size)")
        (self.rank, self.size) = (rank, size)
    }

    public func samples(of globalBatch: Int) -> [Int] { Array(stride(from: rank, to: globalBatch, by: size)) }
}

/// Replaces gradients by their mean over ranks: flatten every gradient into one contiguous
/// buffer, one allreduce (a few large messages beat one per tensor), divide by the group size,
/// scatter back. Each loss is a mean over its rank's equal shard, so this is the gradient of the
/// global batch's mean loss.
final class GradientAverager {
    let collective: Collective
    private var buffer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var capacity = 1

    /// Tests: run the whole path in a group of one too (it must change nothing).
    var reduceAlone = false
    /// Wall time spent in reduce (bench: the cost of data parallelism, waiting for the slowest
    /// rank included).
    private(set) var seconds = 0.0

    init(_ collective: Collective) { self.collective = collective }
    deinit { buffer.deallocate() }

    /// The mean over ranks of each parameter's gradient (a group of one has nothing to do).
    func average(_ parameters: NamedParameters) {
        if collective.size > 1 || reduceAlone { reduce(parameters) }
    }

    /// flatten -> allreduce -> scale -> scatter, whatever the group size (tests run it alone).
    func reduce(_ parameters: NamedParameters) {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
        let grads = parameters.compactMap { $0.1.grad }
        let n = flatten(grads)
        // Every rank must send the same layout; a difference would hang or mix tensors up.
        let count = [Double(n), Double(grads.count)]
        if collective.size > 1 && (collective.min(count) != count || collective.max(count) != count) {
            FileHandle.standardError.write(Data("rank \(collective.rank): ranks disagree on the gradients to average (\(grads.count) tensors, \(n) values here)\n".utf8))
            collective.abort()
        }
        collective.sum(buffer, count: n)
        scatter(grads, scale: 1 / Float(collective.size))
    }

    /// Copies the gradients into the buffer back to back; returns the number of floats.
    func flatten(_ grads: [Tensor]) -> Int {
        let n = grads.reduce(0) { $0 + $1.count }
        if n > capacity {
            buffer.deallocate()
            buffer = .allocate(capacity: n)
            capacity = n
        }
        var offset = 0
        for g in grads {
            g.withUnsafeBufferPointer { (buffer + offset).update(from: $0.baseAddress!, count: $0.count) }
            offset += g.count
        }
        return n
    }

    /// The buffer back into the gradients, times `scale` (exactly a copy when scale is 1).
    func scatter(_ grads: [Tensor], scale: Float) {
        var offset = 0
        for g in grads {
            g.withUnsafeMutableBufferPointer { dst in
                if scale == 1 {
                    dst.baseAddress!.update(from: buffer + offset, count: dst.count)
                } else {
                    ew_affine(dst.baseAddress, buffer + offset, scale, 0, dst.count)
                }
            }
            offset += g.count
        }
    }
}

/// FNV-1a (64 bit) over the bits of the tensors: equal on two ranks iff (almost surely) every
/// value is bit-identical.
public func stateChecksum(_ tensors: [Tensor]) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for t in tensors {
        t.withUnsafeBufferPointer { values in
            for x in values { h = (h ^ UInt64(x.bitPattern)) &* 0x0000_0100_0000_01B3 }
        }
    }
    return h
}
