// A reader of zip archives' stored (uncompressed) entries, as torch.save and TorchScript write
// them: the central directory (zip64 included) gives each entry's name and byte range, every
// offset and size is checked against the file, and an entry's bytes are a view of the mapped file.
// Compressed entries (TorchScript's code/ sources) are listed but cannot be read.
import Foundation

public struct ZipArchive {
    public struct Entry {
        /// The entry's data in the archive's bytes (compressed data when `compressed`).
        public let range: Range<Int>
        public let compressed: Bool
    }

    public let bytes: Data
    public private(set) var entries: [String: Entry] = [:]
    /// Entry names in central-directory order.
    public private(set) var names: [String] = []

    /// True when `bytes` starts like a zip archive (a local file header).
    public static func looksLikeZip(_ bytes: Data) -> Bool {
        bytes.count >= 4 && bytes.prefix(4).elementsEqual([0x50, 0x4B, 0x03, 0x04])
    }

    public init(_ bytes: Data, path: String) throws {
        self.bytes = bytes
        func fail(_ s: String) -> StyleGANError { .importing("\(path): not a readable zip archive: \(s)") }
        let base = bytes.startIndex, n = bytes.count
        func u(_ at: Int, _ size: Int) throws -> UInt64 {
            guard at >= 0, size <= n, at <= n - size else { throw fail("a field at offset \(at) lies past the end (\(n) bytes)") }
            var v: UInt64 = 0
            for i in 0..<size { v |= UInt64(bytes[base + at + i]) << (8 * UInt64(i)) }
            return v
        }
        // End of central directory: the last signature within its maximal comment length.
        let candidates = stride(from: n - 22, through: max(0, n - 22 - 65535), by: -1)
        guard let eocd = try candidates.first(where: { try u($0, 4) == 0x0605_4B50 }) else {
            throw fail("no end-of-central-directory record (truncated file?)")
        }
        var count = Int(try u(eocd + 10, 2))
        var cdSize = try u(eocd + 12, 4), cdOffset = try u(eocd + 16, 4)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // Zip64: the locator just before the record gives the zip64 end of central directory.
            guard eocd >= 20, try u(eocd - 20, 4) == 0x0706_4B50 else { throw fail("zip64 sizes without a zip64 locator") }
            let z = try u(eocd - 20 + 8, 8)
            guard z <= UInt64(n), try u(Int(z), 4) == 0x0606_4B50 else { throw fail("zip64 end-of-central-directory record missing") }
            let c = try u(Int(z) + 32, 8)
            guard c <= UInt64(n) else { throw fail("zip64 entry count \(c) exceeds the file") }
            count = Int(c)
            cdSize = try u(Int(z) + 40, 8)
            cdOffset = try u(Int(z) + 48, 8)
        }
        guard cdOffset <= UInt64(n), cdSize <= UInt64(n) - cdOffset else { throw fail("central directory outside the file") }
        // Each central entry takes at least 46 bytes: the count cannot promise more than that.
        guard count <= Int(cdSize) / 46 else { throw fail("\(count) entries cannot fit a \(cdSize)-byte central directory") }
        var p = Int(cdOffset)
        for _ in 0..<count {
            guard try u(p, 4) == 0x0201_4B50 else { throw fail("central directory entry at \(p) has a bad signature") }
            let method = try u(p + 10, 2)
            var compressed = try u(p + 20, 4), size = try u(p + 24, 4)
            let nameLen = Int(try u(p + 28, 2)), extraLen = Int(try u(p + 30, 2)), commentLen = Int(try u(p + 32, 2))
            var local = try u(p + 42, 4)
            guard p + 46 + nameLen <= n else { throw fail("entry name past the end") }
            let name = String(decoding: bytes[(base + p + 46)..<(base + p + 46 + nameLen)], as: UTF8.self)
            // Zip64 extra field: the 8-byte values replace those stored as 0xFFFFFFFF, in order.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try u(e, 2), len = Int(try u(e + 2, 2))
                if id == 0x0001 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF { size = try u(q, 8); q += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try u(q, 8); q += 8 }
                    if local == 0xFFFF_FFFF { local = try u(q, 8) }
                }
                e += 4 + len
            }
            guard method != 0 || compressed == size else { throw fail("entry '\(name)' is stored with sizes \(compressed) and \(size)") }
            guard local <= UInt64(n), try u(Int(local), 4) == 0x0403_4B50 else { throw fail("entry '\(name)' has no local header at \(local)") }
            let start = Int(local) + 30 + Int(try u(Int(local) + 26, 2)) + Int(try u(Int(local) + 28, 2))
            guard compressed <= UInt64(n), start <= n - Int(compressed) else { throw fail("entry '\(name)' (\(compressed) bytes) runs past the end of the file") }
            let entry = Entry(range: (base + start)..<(base + start + Int(compressed)), compressed: method != 0)
            if entries[name] == nil { names.append(name) }
            entries[name] = entry
            p += 46 + nameLen + extraLen + commentLen
        }
    }

    /// A stored entry's bytes; nil for a missing or compressed one.
    public func data(_ name: String) -> Data? {
        guard let e = entries[name], !e.compressed else { return nil }
        return bytes[e.range]
    }
}
