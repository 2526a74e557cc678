// The pickle, zip and torch readers against hostile input: refused globals, truncations, bad
// sizes, nesting bombs, and a seeded random mutator over real files. Every case must end in a
// thrown error or a successful read: never a crash, a hang or an allocation the file does not hold.
import Foundation
import Testing
import TestSupport
@testable import StyleGAN

private let importDir = fixturesDirectory.appendingPathComponent("import")

@Suite("Pickle and torch file readers")
struct PickleReaderTests {
    static let policy = Pickle.Policy()

    static func parse(_ bytes: [UInt8], policy: Pickle.Policy = policy) throws -> Pickle {
        try Pickle(Data(bytes), policy: policy, what: "test")
    }

    @Test func readsPlainValues() throws {
        // pickle.dumps({'a': [1, -2, 3.5, None, True], 'b': (b'xy', 'z')}, protocol=4)
        let bytes: [UInt8] = [0x80, 0x04, 0x95, 0x2B, 0, 0, 0, 0, 0, 0, 0, 0x7D, 0x94, 0x28, 0x8C, 0x01, 0x61, 0x94, 0x5D, 0x94, 0x28,
                              0x4B, 0x01, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x47, 0x40, 0x0C, 0, 0, 0, 0, 0, 0, 0x4E, 0x88, 0x65, 0x8C, 0x01,
                              0x62, 0x94, 0x43, 0x02, 0x78, 0x79, 0x94, 0x8C, 0x01, 0x7A, 0x94, 0x86, 0x94, 0x75, 0x2E]
        let p = try Self.parse(bytes)
        let d = try #require(p.stringDict(p.root))
        let a = try #require(p.list(d["a"]!))
        guard case .int(1) = a[0], case .int(-2) = a[1], case .float(3.5) = a[2], case .none = a[3], case .bool(true) = a[4] else {
            Issue.record("list decoded as \(a)")
            return
        }
        let b = try #require(p.tuple(d["b"]!))
        #expect(p.bytes(b[0]) == Data("xy".utf8))
        guard case .string("z") = b[1] else { Issue.record("\(b[1])"); return }
    }

    @Test func refusesGlobalsOffTheAllowList() {
        // What pickle.dumps writes for an object whose __reduce__ is os.system('echo pwned').
        var bytes: [UInt8] = [0x80, 0x02]
        bytes += Array("cposix\nsystem\n".utf8) + [0x58, 10, 0, 0, 0] + Array("echo pwned".utf8) + [0x85, 0x52, 0x2E]
        do {
            _ = try Self.parse(bytes)
            Issue.record("os.system was accepted")
        } catch {
            #expect("\(error)".contains("refusing global 'posix.system'"))
        }
        for g in ["builtins\neval\n", "subprocess\nPopen\n", "torch.nn.modules.conv\nConv2d\n", "__builtin__\napply\n"] {
            expectError(.importing) { try Self.parse([0x80, 0x02, 0x63] + Array(g.utf8) + [0x29, 0x52, 0x2E]) }
        }
    }

    @Test func refusesMalformedStreams() {
        let cases: [[UInt8]] = [
            [],  // empty
            [0x80, 0x04],  // no STOP
            [0x80, 0x04, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x61, 0x2E],  // string longer than the input
            [0x80, 0x04, 0x8E] + [UInt8](repeating: 0xFF, count: 8) + [0x2E],  // 2^64 - 1 bytes declared
            [0x80, 0x04, 0x68, 0x05, 0x2E],  // memo read never written
            [0x80, 0x04, 0x2E],  // STOP on an empty stack
            [0x80, 0x04, 0x61, 0x2E],  // APPEND without anything
            [0x80, 0x04, 0x65, 0x2E],  // APPENDS without MARK
            [0x80, 0x04, 0xFF, 0x2E],  // unknown opcode
            [0x80, 0x04, 0x8B, 0x10, 0, 0, 0] + [UInt8](repeating: 1, count: 16) + [0x2E],  // 128-bit integer
            [0x80, 0x05, 0x97, 0x2E],  // out-of-band buffer
            [0x80, 0x02, 0x82, 0x01, 0x2E],  // extension registry
            [0x80, 0x04, 0x4B, 0x01, 0x4B, 0x02, 0x52, 0x2E],  // calling an int
        ]
        for bytes in cases {
            expectError(.importing, "\(bytes)") { try Self.parse(bytes) }
        }
    }

    @Test func nestingBombsAndCyclesAreSafe() throws {
        // 100,000 nested lists: refused at the depth limit, not by overflowing a stack.
        var deep: [UInt8] = [0x80, 0x04]
        for _ in 0..<100_000 { deep += [0x5D, 0x28] }  // EMPTY_LIST MARK ...
        for _ in 0..<100_000 { deep += [0x65] }  // ... APPENDS
        deep += [0x2E]
        expectError(.importing) { try Self.parse(deep) }
        // A list that holds itself (EMPTY_LIST, MEMOIZE, BINGET 0, APPEND): a cycle, read without
        // looping; nothing recursive ever walks it.
        let cyclic = try Self.parse([0x80, 0x04, 0x5D, 0x94, 0x68, 0x00, 0x61, 0x2E])
        #expect(cyclic.list(cyclic.root)?.count == 1)
        // Deep nesting through memo (each list appended into the one before, after insertion)
        // grows no Swift recursion either: containers refer to each other by index.
        var chain: [UInt8] = [0x80, 0x04, 0x5D, 0x94]
        for i in 1..<5000 {
            // LONG_BINGET i-1, EMPTY_LIST, MEMOIZE, APPEND, POP: list i-1 gets list i.
            chain += [0x6A] + withUnsafeBytes(of: UInt32(i - 1).littleEndian, Array.init) + [0x5D, 0x94, 0x61, 0x30]
        }
        chain += [0x2E]
        let p = try Self.parse(chain)
        #expect(p.lists.count == 5000)
    }

    @Test func refusesHostileTorchFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-pickle-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: importDir.appendingPathComponent("rosinality-8.pt"))
        func check(_ bytes: Data, _ label: String) {
            let path = dir.appendingPathComponent("f.pt").path
            FileManager.default.createFile(atPath: path, contents: bytes)
            do {
                _ = try ImportedNetworks.read(path, resolution: 8)
                Issue.record("\(label): accepted")
            } catch {
                #expect((error as? StyleGANError)?.domain == .importing, "\(label): \(error)")
            }
        }
        // Truncated anywhere: the central directory, a storage, the pickle.
        for cut in [0, 3, 100, good.count / 2, good.count - 30, good.count - 1] { check(good.prefix(cut), "truncated at \(cut)") }
        check(Data("not a weights file".utf8), "text")
        // A storage entry cut short inside an intact archive: the tensor reads past it.
        let zip = try ZipArchive(good, path: "good")
        let storage = try #require(zip.names.first { $0.contains("/data/") })
        let range = zip.entries[storage]!.range
        var shortStorage = good
        // Rewrite the entry's stored size in its local header and central record to half.
        let half = UInt32(range.count / 2)
        for i in good.indices where i + 4 <= good.count && good[i] == 0x50 && good[i + 1] == 0x4B && good[i + 2] == 0x01 && good[i + 3] == 0x02 {
            let nameLen = Int(good[i + 28]) | Int(good[i + 29]) << 8
            if String(decoding: good[(i + 46)..<(i + 46 + nameLen)], as: UTF8.self) == storage {
                for j in 0..<4 {
                    shortStorage[i + 20 + j] = UInt8((half >> (8 * UInt32(j))) & 0xFF)
                    shortStorage[i + 24 + j] = UInt8((half >> (8 * UInt32(j))) & 0xFF)
                }
            }
        }
        check(shortStorage, "storage shorter than its tensors")
    }

    /// A seeded mutator over data.pkl of a real checkpoint and over the whole zip: flipped, deleted,
    /// inserted and repeated bytes. Each input must give an error or a read, nothing else.
    @Test func fuzzedInputsFailCleanly() throws {
        let good = try Data(contentsOf: importDir.appendingPathComponent("rosinality-8.pt"))
        let zip = try ZipArchive(good, path: "good")
        let pklName = try #require(zip.names.first { $0.hasSuffix("/data.pkl") })
        let pkl = [UInt8](zip.data(pklName)!)
        var storages: [String: Data] = [:]
        for name in zip.names where name.contains("/data/") { storages[String(name.split(separator: "/").last!)] = zip.data(name)! }
        let runs = Int(ProcessInfo.processInfo.environment["STYLEGAN_FUZZ_RUNS"] ?? "") ?? 1000
        var rng = SplitMix(seed: 0xF022)
        var parsed = 0, mapped = 0
        for _ in 0..<runs {
            var b = pkl
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(max(b.count, 1)))
                switch rng.next() % 5 {
                case 0: if !b.isEmpty { b[at] = UInt8(truncatingIfNeeded: rng.next()) }
                case 1: if !b.isEmpty { b.remove(at: at) }
                case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                case 3: b = Array(b.prefix(at))
                default:
                    let n = Int(rng.next() % 16)
                    if at + n <= b.count { b.insert(contentsOf: b[at..<(at + n)], at: at) }
                }
            }
            guard let p = try? Pickle(Data(b), policy: Self.torchPolicy, what: "fuzz") else { continue }
            parsed += 1
            let file = TorchFile(path: "fuzz", pickle: p, storageBytes: storages)
            if (try? Rosinality.read(file, resolution: 8)) != nil { mapped += 1 }
        }
        // Whole-archive mutations reach the zip reader.
        var zipRuns = 0
        for _ in 0..<(runs / 10) {
            var b = good
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                // Bias toward the archive's structure: its head and its central directory at the end.
                let region = rng.next() % 2 == 0 ? Int(rng.next() % 512) : b.count - 1 - Int(rng.next() % 2048)
                if region >= 0 && region < b.count { b[region] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            if let z = try? ZipArchive(b, path: "fuzz"), let name = z.names.first(where: { $0.hasSuffix("/data.pkl") }), let d = z.data(name) {
                _ = try? Pickle(d, policy: Self.torchPolicy, what: "fuzz")
            }
            zipRuns += 1
        }
        print("pickle fuzz: \(runs) inputs, \(parsed) parsed, \(mapped) mapped to networks; zip fuzz: \(zipRuns) inputs")
        #expect(parsed < runs)
    }

    static var torchPolicy: Pickle.Policy {
        var p = Pickle.Policy()
        p.valueGlobals = TorchFile.storageGlobals
        return p
    }

    @Test func npyFilesRoundTripAndRefuseBadHeaders() throws {
        let t = Tensor((0..<6).map(Float.init), shape: [2, 3])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("z-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NumPy.write(t, to: path)
        let back = try NumPy.read(path)
        #expect(back.shape == [2, 3] && back.scalars == t.scalars)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        expectError(.importing) { try NumPy.parse(Data(bytes.prefix(bytes.count - 4)), what: "short") }
        bytes[1] = 0x41
        expectError(.importing) { try NumPy.parse(Data(bytes), what: "magic") }
        // Fortran order (numpy.save of np.asfortranarray(arange(6).reshape(2, 3))): column-major data.
        var header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var fortran = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count), 0]) + Data(header.utf8)
        for v: Float in [0, 3, 1, 4, 2, 5] { withUnsafeBytes(of: v.bitPattern.littleEndian) { fortran.append(contentsOf: $0) } }
        #expect(try NumPy.parse(fortran, what: "fortran").scalars == [0, 1, 2, 3, 4, 5])
    }
}

/// A small deterministic generator for the mutator.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
