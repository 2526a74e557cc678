// Tensor: an n-dimensional float32 array (NCHW for images) that owns a contiguous, 64-byte
// aligned buffer, plus the autograd fields (requiresGrad, grad, the node that made it).
// Reference semantics, as in PyTorch: ops return new tensors; reshape shares the buffer.
import CKernels
import Foundation

/// The buffer behind one or more tensors (reshape views share it).
final class Storage {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        precondition(count >= 0, "negative tensor size")
        self.count = count
        guard let raw = ck_buffer_alloc(Storage.bytes(count)) else {
            fatalError("out of memory allocating \(Storage.bytes(count)) bytes for a tensor")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    static func bytes(_ count: Int) -> Int { max(64, (count * MemoryLayout<Float>.stride + 63) / 64 * 64) }

    // Large buffers go back to the kernels' cache for the next tensor of the same size.
    deinit { ck_buffer_free(pointer, Storage.bytes(count)) }
}

public final class Tensor {
    public let shape: [Int]
    let storage: Storage
    /// Set on leaves (parameters, inputs) whose gradient is wanted; ops propagate it.
    public var requiresGrad = false
    /// Accumulated by `backward()` on leaves that require grad.
    public var grad: Tensor?
    /// The op that produced this tensor, when it was recorded for autograd.
    var gradFn: Node?

    init(shape: [Int], storage: Storage) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == storage.count, "shape \(shape) does not match buffer size \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// An uninitialised tensor (every element is written by the caller).
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *)))
    }

    public convenience init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        data.initialize(repeating: value, count: count)
    }

    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(uninitialized: shape)
        data.update(from: values, count: values.count)
    }

    /// A new tensor of `shape` whose every element `kernel` writes (after `Kernels.ensure()`).
    static func run(_ shape: [Int], _ kernel: (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        Kernels.ensure()
        let y = Tensor(uninitialized: shape)
        kernel(y.data)
        return y
    }

    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    /// Standard normal draws from the Philox stream (seed, stream, step): the same on any thread count.
    public convenience init(randomNormal shape: [Int], seed: UInt64, stream: UInt32 = 0, step: UInt32 = 0,
                            requiresGrad: Bool = false) {
        self.init(uninitialized: shape)
        philox_normal(data, count, seed, stream, step, 0)
        self.requiresGrad = requiresGrad
    }

    public convenience init(randomUniform shape: [Int], seed: UInt64, stream: UInt32 = 0, step: UInt32 = 0) {
        self.init(uninitialized: shape)
        philox_uniform(data, count, seed, stream, step, 0)
    }

    /// Rows `rows` (indices along axis 0) of the draw `Tensor(randomNormal: shape, ...)`, in that
    /// order: a process that computes a shard of a batch draws its samples' numbers without the
    /// rest, the same bits whichever process draws them (Philox element i depends on i alone).
    public convenience init(randomNormal shape: [Int], rows: [Int], seed: UInt64, stream: UInt32 = 0, step: UInt32 = 0) {
        self.init(rows: rows, of: shape, "randomNormal") { philox_normal($0, $1, seed, stream, step, $2) }
    }

    /// Rows `rows` of the draw `Tensor(randomUniform: shape, ...)`, as `init(randomNormal:rows:...)`.
    public convenience init(randomUniform shape: [Int], rows: [Int], seed: UInt64, stream: UInt32 = 0, step: UInt32 = 0) {
        self.init(rows: rows, of: shape, "randomUniform") { philox_uniform($0, $1, seed, stream, step, $2) }
    }

    /// Fills row k from `draw(destination, count, offset of row rows[k] in the whole draw)`.
    private convenience init(rows: [Int], of shape: [Int], _ name: String, draw: (UnsafeMutablePointer<Float>, Int, Int) -> Void) {
        let row = shape.dropFirst().reduce(1, *)
        self.init(uninitialized: [rows.count] + shape.dropFirst())
        for (k, r) in rows.enumerated() {
            precondition(r >= 0 && r < shape[0], "Tensor(\(name):rows:): row \(r) outside \(shape)")
            draw(data + k * row, row, r * row)
        }
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    /// The buffer, for the library's ops. Outside the library, use the scoped accessors below:
    /// a pointer kept past its tensor's lifetime is a use-after-free.
    var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// Reads the values in place; the buffer lives at least until `body` returns.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafeBufferPointer(start: storage.pointer, count: count)) }
    }

    /// Writes the values in place; the buffer lives at least until `body` returns.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count)) }
    }

    /// One element by its flat (row-major) index, bounds-checked.
    public subscript(flat i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "index \(i) outside \(shape)"); return storage.pointer[i] }
        set { precondition(i >= 0 && i < count, "index \(i) outside \(shape)"); storage.pointer[i] = newValue }
    }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item of a tensor with \(count) elements")
        return data[0]
    }

    /// The same values with no autograd history (shares the buffer).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// A deep copy with no autograd history.
    public func copy() -> Tensor { Tensor.run(shape) { $0.update(from: data, count: count) } }

    /// Overwrites the values in place (shapes must match); for optimisers, EMA and loading.
    public func assign(_ other: Tensor) {
        precondition(other.shape == shape, "assign: shape \(other.shape) into \(shape)")
        if other.data != data { data.update(from: other.data, count: count) }
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}

/// Kernels are initialised once (OpenMP's spin-wait) before the first op.
enum Kernels {
    static let ready: Void = { ck_init() }()
    @inline(__always) static func ensure() { _ = ready }
}
