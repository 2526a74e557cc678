// NumPy arrays, as float32 tensors: `.npy` files (what users pass as latents with --z / --w, and
// what we write for them) and arrays inside pickles (numpy's own reconstruction records, as in
// NVIDIA's network pickles), with every size checked against the bytes present.
import Foundation

public enum NumPy {
    /// Globals of numpy's array pickling (numpy 1.x and 2.x names), kept as records.
    public static let pickleRecords: Set<String> = [
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer", "numpy.dtype",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    ]
    public static let pickleValues: Set<String> = ["numpy.ndarray"]

    /// The element type of a dtype string such as "<f4" (uint8 and little-endian floats only).
    static func elementType(_ descr: String) throws -> TorchFile.DType {
        switch descr {
        case "|u1", "u1", "<u1", "uint8": return .u8
        case "<f4", "=f4", "f4", "float32": return .f32
        case "<f2", "=f2", "f2", "float16": return .f16
        case "<f8", "=f8", "f8", "float64": return .f64
        default: throw StyleGANError.importing("array dtype '\(descr)' is not uint8 or a little-endian float (f2, f4, f8)")
        }
    }

    /// Decodes `count` little-endian floats of `descr` into a tensor of `shape` (C or Fortran order).
    static func tensor(_ bytes: Data, descr: String, shape: [Int], fortran: Bool, what: String) throws -> Tensor {
        let dtype = try elementType(descr)
        var count = 1
        for d in shape {
            let (c, o) = count.multipliedReportingOverflow(by: d)
            guard d >= 0, !o, c <= bytes.count else { throw StyleGANError.importing("\(what): shape \(shape) is larger than its \(bytes.count) bytes") }
            count = c
        }
        guard bytes.count == count * dtype.size else { throw StyleGANError.importing("\(what): \(bytes.count) bytes do not hold \(shape) of \(descr)") }
        let t = Tensor(uninitialized: shape)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count { t.data[i] = TorchFile.element(raw, i, dtype) }
        }
        guard fortran, shape.count > 1 else { return t }
        // Fortran order: the reversed shape in C order, its axes reversed back.
        return t.reshaped(shape.reversed()).permuted(Array((0..<shape.count).reversed()))
    }

    // MARK: - .npy files

    public static func read(_ path: String) throws -> Tensor {
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw StyleGANError.importing("\(path): cannot read: \((error as NSError).localizedDescription)")
        }
        return try parse(bytes, what: path)
    }

    public static func parse(_ bytes: Data, what: String) throws -> Tensor {
        let b = [UInt8](bytes.prefix(12))
        guard b.count >= 10, b[0] == 0x93, Array(b[1...5]) == Array("NUMPY".utf8) else { throw StyleGANError.importing("\(what): not a .npy file") }
        let major = b[6]
        let headerLen: Int, start: Int
        if major == 1 { headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10 }
        else if major == 2 || major == 3, b.count >= 12 {
            headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        } else { throw StyleGANError.importing("\(what): unsupported .npy version \(major)") }
        guard headerLen <= bytes.count - start else { throw StyleGANError.importing("\(what): .npy header runs past the end of the file") }
        let header = String(decoding: bytes[(bytes.startIndex + start)..<(bytes.startIndex + start + headerLen)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let d = field("descr"), let q1 = d.firstIndex(of: "'"),
              let q2 = d[d.index(after: q1)...].firstIndex(of: "'") else { throw StyleGANError.importing("\(what): .npy header has no descr") }
        let descr = String(d[d.index(after: q1)..<q2])
        let fortran = field("fortran_order")?.hasPrefix("True") ?? false
        guard let s = field("shape"), let open = s.firstIndex(of: "("), let close = s.firstIndex(of: ")") else {
            throw StyleGANError.importing("\(what): .npy header has no shape")
        }
        let dims = s[s.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try dims.map { d -> Int in
            guard let v = Int(d), v >= 0 else { throw StyleGANError.importing("\(what): bad .npy dimension '\(d)'") }
            return v
        }
        return try tensor(bytes.suffix(from: bytes.startIndex + start + headerLen), descr: descr, shape: shape, fortran: fortran, what: what)
    }

    /// A float32 .npy file (version 1.0, C order), written atomically.
    public static func write(_ t: Tensor, to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(t.shape.map(String.init).joined(separator: ", "))\(t.rank == 1 ? "," : "")), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        out.append(Data(header.utf8))
        out.append(UnsafeBufferPointer(start: t.data, count: t.count))
        try writeAtomically(out, to: path)
    }
}

extension Pickle {
    /// A numpy float array of the pickle (numpy's `_reconstruct` + state, or `_frombuffer`).
    public func ndarray(_ v: PickleValue, what: String) throws -> Tensor {
        guard let obj = object(v) else { throw StyleGANError.importing("\(what) is a \(kind(v)), not a numpy array") }
        if obj.type.hasSuffix("._frombuffer") {
            guard obj.args.count >= 4, let buffer = bytes(obj.args[0]), let dtype = object(obj.args[1]),
                  let shape = tuple(obj.args[2]) else { throw StyleGANError.importing("\(what): malformed numpy _frombuffer record") }
            let dims = try shape.map { d -> Int in guard case .int(let n) = d else { throw StyleGANError.importing("\(what): bad dimension") }; return n }
            var fortran = false
            if case .string(let order) = obj.args[3] { fortran = order == "F" }
            return try NumPy.tensor(buffer, descr: try dtypeString(dtype, what: what), shape: dims, fortran: fortran, what: what)
        }
        guard obj.type.hasSuffix("._reconstruct"), let state = obj.state.flatMap({ tuple($0) }), state.count == 5,
              let shape = tuple(state[1]), let dtype = object(state[2]), let raw = bytes(state[4]) else {
            throw StyleGANError.importing("\(what): a \(obj.type) record that is not a numpy array with data")
        }
        let dims = try shape.map { d -> Int in guard case .int(let n) = d, n >= 0 else { throw StyleGANError.importing("\(what): bad dimension") }; return n }
        var fortran = false
        if case .bool(let f) = state[3] { fortran = f }
        return try NumPy.tensor(raw, descr: try dtypeString(dtype, what: what), shape: dims, fortran: fortran, what: what)
    }

    /// "<f4" from numpy.dtype('f4', False, True) with state (3, '<', ...).
    func dtypeString(_ d: PickleObject, what: String) throws -> String {
        guard d.type == "numpy.dtype", case .string(let name)? = d.args.first else { throw StyleGANError.importing("\(what): array dtype is not a numpy.dtype") }
        var order = "<"
        if let s = d.state.flatMap({ tuple($0) }), s.count > 1, case .string(let o) = s[1] { order = o == "|" ? "<" : o }
        guard order == "<" || order == "=" else { throw StyleGANError.importing("\(what): big-endian arrays are not supported") }
        return "<" + name
    }
}

extension Tensor {
    /// A tensor of `shape` whose element at index i (row-major) is `element(offset + sum i_k stride_k)`:
    /// the one strided walk of the readers (torch's views, axis permutations).
    static func gathered(shape: [Int], strides: [Int], offset: Int = 0, _ element: (Int) -> Float) -> Tensor {
        let t = Tensor(uninitialized: shape)
        var index = [Int](repeating: 0, count: shape.count)
        for j in 0..<t.count {
            var e = offset
            for k in 0..<shape.count { e += index[k] * strides[k] }
            t.data[j] = element(e)
            var k = shape.count - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < shape[k] { break }
                index[k] = 0
                k -= 1
            }
        }
        return t
    }

    /// The axes of `self` reordered: result axis i is source axis `order[i]`.
    func permuted(_ order: [Int]) -> Tensor {
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        return Tensor.gathered(shape: order.map { shape[$0] }, strides: order.map { strides[$0] }) { data[$0] }
    }
}
