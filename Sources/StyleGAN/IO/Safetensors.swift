// safetensors files: 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then raw little-endian data. Used for checkpoints and test fixtures, so
// PyTorch users can open our weights with the `safetensors` package and nothing is unpickled.
// Reading validates every header field against the file size before anything is allocated.
import Foundation

public enum SafetensorsDType: String {
    case f32 = "F32", f16 = "F16"
    var size: Int { self == .f32 ? 4 : 2 }
}

/// A whole safetensors file in memory: tensors by name (decoded to float32) and string metadata.
public struct SafetensorsFile {
    public var tensors: [String: Tensor] = [:]
    public var metadata: [String: String] = [:]
    /// Names in file order (data offsets ascending).
    public var names: [String] = []
    /// Every tensor's shape, also when only the header was read.
    public var shapes: [String: [Int]] = [:]

    /// The named tensor, or an error that says which file lacks it.
    public func tensor(_ name: String, shape: [Int]? = nil, path: String = "") throws -> Tensor {
        guard let t = tensors[name] else { throw StyleGANError.safetensors(path, "missing tensor '\(name)'") }
        if let shape, t.shape != shape {
            throw StyleGANError.safetensors(path, "tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        return t
    }

    /// Headers larger than this are refused (the format's reference reader uses 100 MB too).
    static let maxHeaderBytes = 100_000_000

    /// `headerOnly`: names, shapes and metadata, checked as for a full read, without the data.
    public static func read(_ path: String, headerOnly: Bool = false) throws -> SafetensorsFile {
        try parse(try mappedFile(path) { .safetensors(path, $0) }, path: path, headerOnly: headerOnly)
    }

    public static func parse(_ bytes: Data, path: String = "<memory>", headerOnly: Bool = false) throws -> SafetensorsFile {
        guard bytes.count >= 8 else { throw StyleGANError.safetensors(path, "too short for a safetensors file (\(bytes.count) bytes)") }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        guard headerLength <= UInt64(maxHeaderBytes), headerLength <= UInt64(bytes.count - 8) else {
            throw StyleGANError.safetensors(path, "header length \(headerLength) exceeds the file (\(bytes.count) bytes) or the \(maxHeaderBytes)-byte limit")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = bytes.count - dataStart
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<dataStart))
        } catch {
            throw StyleGANError.safetensors(path, "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw StyleGANError.safetensors(path, "header is not a JSON object") }

        var file = SafetensorsFile()
        var ranges: [(begin: Int, end: Int, name: String, dtype: SafetensorsDType, shape: [Int])] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else { throw StyleGANError.safetensors(path, "__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v as? String else { throw StyleGANError.safetensors(path, "metadata '\(k)' is not a string") }
                    file.metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any],
                  let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw StyleGANError.safetensors(path, "tensor '\(name)': malformed entry (dtype, shape, data_offsets needed)")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw StyleGANError.safetensors(path, "tensor '\(name)': unsupported dtype \(dtypeName) (F32 or F16 expected)")
            }
            let shape = try shapeAny.map { d -> Int in
                guard let n = (d as? NSNumber)?.int64Value, n >= 0, n <= Int64(Int32.max) else {
                    throw StyleGANError.safetensors(path, "tensor '\(name)': bad dimension \(d)")
                }
                return Int(n)
            }
            let offsets = try offsetsAny.map { o -> Int in
                guard let n = (o as? NSNumber)?.int64Value, n >= 0, n <= Int64(dataLength) else {
                    throw StyleGANError.safetensors(path, "tensor '\(name)': data offset \(o) outside the \(dataLength)-byte data section")
                }
                return Int(n)
            }
            // The element count is checked against the byte range with overflow detection, so a
            // hostile shape cannot make us allocate more than the file holds.
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p <= dataLength else {
                    throw StyleGANError.safetensors(path, "tensor '\(name)': shape \(shape) is larger than the file")
                }
                elements = p
            }
            guard offsets[0] <= offsets[1], offsets[1] - offsets[0] == elements * dtype.size else {
                throw StyleGANError.safetensors(path, "tensor '\(name)': byte range \(offsets) does not hold \(shape) of \(dtypeName)")
            }
            ranges.append((offsets[0], offsets[1], name, dtype, shape))
        }
        ranges.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.begin < a.end {
            throw StyleGANError.safetensors(path, "tensors '\(a.name)' and '\(b.name)' overlap")
        }
        for r in ranges { file.shapes[r.name] = r.shape }
        file.names = ranges.map(\.name)
        if headerOnly { return file }
        bytes.withUnsafeBytes { raw in
            for r in ranges {
                let t = Tensor(uninitialized: r.shape)
                let src = raw.baseAddress! + dataStart + r.begin
                switch r.dtype {
                case .f32:
                    UnsafeMutableRawPointer(t.data).copyMemory(from: src, byteCount: r.end - r.begin)
                case .f16:
                    for i in 0..<t.count {
                        let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        t.data[i] = Float(Float16(bitPattern: bits))
                    }
                }
                file.tensors[r.name] = t
            }
        }
        return file
    }

    /// Serialises tensors (in the given order) and metadata. `dtypes` may store some as F16.
    public static func serialize(_ tensors: [(String, Tensor)], metadata: [String: String] = [:],
                                 dtypes: [String: SafetensorsDType] = [:]) -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, t) in tensors {
            let dtype = dtypes[name] ?? .f32
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.count * dtype.size]] as [String: Any]
            offset += t.count * dtype.size
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data section starts 8-byte aligned, as the format recommends.
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (name, t) in tensors {
            if (dtypes[name] ?? .f32) == .f32 {
                out.append(UnsafeBufferPointer(start: t.data, count: t.count))
            } else {
                var half = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { half[i] = Float16(t.data[i]).bitPattern.littleEndian }
                half.withUnsafeBufferPointer { out.append($0) }
            }
        }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, fsync, then rename over `path`,
    /// so a crash mid-write never leaves a truncated file under the final name.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:],
                             dtypes: [String: SafetensorsDType] = [:], to path: String) throws {
        try writeAtomically(serialize(tensors, metadata: metadata, dtypes: dtypes), to: path)
    }
}
