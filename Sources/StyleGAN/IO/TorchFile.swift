// Files written by torch.save, read without Python: the zip format (data.pkl and one raw entry
// per storage; TorchScript archives are the same with records of `__torch__` classes) and the
// legacy format before PyTorch 1.6 (a sequence of pickles followed by the storages). Tensors are
// materialised as float32 on demand, each checked against its storage's bytes first.
import Foundation

public struct TorchFile {
    public enum DType: String {
        case f32 = "Float", f16 = "Half", bf16 = "BFloat16", f64 = "Double"
        case i64 = "Long", i32 = "Int", i16 = "Short", i8 = "Char", u8 = "Byte", bool = "Bool"

        var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16, .i16: return 2
            case .i8, .u8, .bool: return 1
            }
        }
    }

    /// TorchScript archives: modules are records of `__torch__` classes.
    public static let torchScriptPolicy = Pickle.Policy(recordPrefixes: ["__torch__."])

    /// Storage types, the only torch globals that appear as plain values.
    static let storageGlobals = Set(["Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"].map { "torch.\($0)Storage" })

    public let path: String
    public let pickle: Pickle
    /// The root object (a state dict, or a dict of them).
    public var root: PickleValue { pickle.root }
    /// Storage bytes by key.
    let storageBytes: [String: Data]

    /// Reads a torch.save file. `records` lets a caller accept classes as plain records (e.g.
    /// `__torch__.` for TorchScript); plain torch.save files need none.
    public static func load(_ path: String, policy: Pickle.Policy = Pickle.Policy()) throws -> TorchFile {
        let bytes = try mappedFile(path) { .importing("\(path): \($0)") }
        var policy = policy
        policy.valueGlobals.formUnion(storageGlobals)
        if ZipArchive.looksLikeZip(bytes) { return try fromZip(bytes, path: path, policy: policy) }
        if isLegacy(bytes) { return try fromLegacy(bytes, path: path, policy: policy) }
        throw StyleGANError.importing("\(path): not a torch.save file (neither a zip archive nor the legacy format)")
    }

    static func fromZip(_ bytes: Data, path: String, policy: Pickle.Policy, pickleName: String = "data.pkl") throws -> TorchFile {
        let zip = try ZipArchive(bytes, path: path)
        guard let main = zip.names.first(where: { $0.split(separator: "/").count == 2 && $0.hasSuffix("/" + pickleName) }) else {
            throw StyleGANError.importing("\(path): zip archive without \(pickleName): not a torch.save file")
        }
        let prefix = String(main.dropLast(pickleName.count))
        if let order = zip.data(prefix + "byteorder"), String(decoding: order, as: UTF8.self) != "little" {
            throw StyleGANError.importing("\(path): big-endian tensors are not supported")
        }
        guard let mainBytes = zip.data(main) else { throw StyleGANError.importing("\(path): \(main) is compressed; torch stores it uncompressed") }
        let pickle = try Pickle(mainBytes, policy: policy, what: "\(path) (\(main))")
        var storages: [String: Data] = [:]
        for name in zip.names where name.hasPrefix(prefix + "data/") {
            guard let d = zip.data(name) else { throw StyleGANError.importing("\(path): storage \(name) is compressed; torch stores storages uncompressed") }
            storages[String(name.dropFirst(prefix.count + 5))] = d
        }
        return TorchFile(path: path, pickle: pickle, storageBytes: storages)
    }

    /// The legacy format starts with a pickled magic number (a 10-byte long).
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    static func isLegacy(_ bytes: Data) -> Bool { bytes.prefix(legacyMagic.count).elementsEqual(legacyMagic) }

    static func fromLegacy(_ bytes: Data, path: String, policy: Pickle.Policy) throws -> TorchFile {
        var offset = legacyMagic.count
        func next(_ what: String) throws -> Pickle {
            let p = try Pickle(bytes, offset: offset, policy: policy, what: "\(path) (\(what))")
            offset = p.end
            return p
        }
        let version = try next("protocol version")
        guard case .int(1001) = version.root else { throw StyleGANError.importing("\(path): legacy torch file of an unknown protocol version") }
        _ = try next("system info")
        let main = try next("data")
        let keysPickle = try next("storage keys")
        guard let keys = keysPickle.list(keysPickle.root) else { throw StyleGANError.importing("\(path): legacy storage keys are not a list") }
        // Element sizes by key, from the persistent ids of the main pickle.
        var elementSize: [String: Int] = [:]
        for id in main.persistentIDs {
            if let (dtype, key, _) = try? storageID(id, in: main, path: path) { elementSize[key] = dtype.size }
        }
        var storages: [String: Data] = [:]
        for k in keys {
            guard case .string(let key) = k, let size = elementSize[key] else { throw StyleGANError.importing("\(path): legacy storage key \(main.kind(k)) unknown to the data") }
            guard offset + 8 <= bytes.count else { throw StyleGANError.importing("\(path): legacy storage '\(key)' past the end of the file (truncated?)") }
            let count = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
            offset += 8
            guard count <= UInt64(bytes.count - offset) / UInt64(size) else {
                throw StyleGANError.importing("\(path): legacy storage '\(key)' declares \(count) elements, more than the file holds")
            }
            let n = Int(count) * size
            storages[key] = bytes[(bytes.startIndex + offset)..<(bytes.startIndex + offset + n)]
            offset += n
        }
        return TorchFile(path: path, pickle: main, storageBytes: storages)
    }

    /// A persistent id ('storage', torch.XStorage, key, location, numel[, view]) decoded.
    static func storageID(_ id: PickleValue, in pickle: Pickle, path: String) throws -> (DType, String, Int) {
        guard let t = pickle.tuple(id), t.count >= 5, case .string("storage") = t[0], case .global(let g) = t[1],
              g.hasPrefix("torch."), g.hasSuffix("Storage"), let dtype = DType(rawValue: String(g.dropFirst(6).dropLast(7))),
              case .int(let numel) = t[4], numel >= 0 else {
            throw StyleGANError.importing("\(path): a tensor's storage is not a ('storage', type, key, location, size) id")
        }
        let key: String
        switch t[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw StyleGANError.importing("\(path): storage key is a \(pickle.kind(t[2]))")
        }
        return (dtype, key, numel)
    }

    /// A tensor of the file as float32, checked against its storage.
    public func tensor(_ v: PickleValue, name: String) throws -> Tensor {
        guard case .tensor(let i) = v else { throw StyleGANError.importing("\(path): '\(name)' is a \(pickle.kind(v)), not a tensor") }
        let ref = pickle.tensors[i]
        let (dtype, key, numel) = try TorchFile.storageID(pickle.persistentIDs[ref.storage], in: pickle, path: path)
        guard let bytes = storageBytes[key] else { throw StyleGANError.importing("\(path): storage '\(key)' of '\(name)' is missing") }
        guard numel <= bytes.count / dtype.size else {
            throw StyleGANError.importing("\(path): storage '\(key)' declares \(numel) elements but holds \(bytes.count) bytes")
        }
        var count = 1, last = ref.offset
        for (d, s) in zip(ref.shape, ref.stride) {
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            let (span, o2) = max(d - 1, 0).multipliedReportingOverflow(by: s)
            guard !o1, !o2, c <= numel else { throw StyleGANError.importing("\(path): '\(name)' of shape \(ref.shape) exceeds its storage") }
            count = c
            last += span
        }
        guard count == 0 || last < numel else {
            throw StyleGANError.importing("\(path): '\(name)' (shape \(ref.shape), stride \(ref.stride), offset \(ref.offset)) reads past its storage of \(numel)")
        }
        return bytes.withUnsafeBytes { raw in
            Tensor.gathered(shape: ref.shape, strides: ref.stride, offset: ref.offset) { TorchFile.element(raw, $0, dtype) }
        }
    }

    static func element(_ raw: UnsafeRawBufferPointer, _ i: Int, _ dtype: DType) -> Float {
        switch dtype {
        case .f32: return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .f16: return Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        case .bf16: return Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
        case .f64: return Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        case .i64: return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        case .i32: return Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case .i16: return Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case .i8: return Float(Int8(bitPattern: raw[i]))
        case .u8, .bool: return Float(raw[i])
        }
    }

    /// The tensors of a state dict (a dict of name -> tensor; other values are skipped), by name.
    public func stateDict(_ v: PickleValue, what: String) throws -> [String: Tensor] {
        guard let items = pickle.dict(v) else { throw StyleGANError.importing("\(path): \(what) is a \(pickle.kind(v)), not a state dict") }
        var out: [String: Tensor] = [:]
        for (k, value) in items {
            guard case .string(let name) = k else { throw StyleGANError.importing("\(path): \(what) has a \(pickle.kind(k)) key") }
            if case .tensor = value { out[name] = try tensor(value, name: name) }
        }
        return out
    }
}
