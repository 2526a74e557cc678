// The prepared dataset that training and metrics read: a folder written by `stylegan prepare`
// holding one raw uint8 file per resolution (rNNN.u8, NCHW: count x 3 x r x r) and manifest.json.
// The level files are memory-mapped read-only, so opening costs nothing however large the set is,
// pages are shared between processes, and a batch is a copy out of the page cache.
// Everything the manifest claims is checked against the files before anything is mapped: a short
// file mapped and then read would kill the process with SIGBUS instead of giving an error.
import CImage
import Foundation

/// manifest.json: written last by the preparer, so a folder that has it is complete.
public struct DatasetManifest: Codable, Equatable {
    public static let formatName = "stylegan-swift-dataset"
    public static let currentVersion = 1

    public struct Skipped: Codable, Equatable {
        public var path: String
        public var reason: String
        public init(path: String, reason: String) { (self.path, self.reason) = (path, reason) }
    }

    public var format: String
    public var version: Int
    public var count: Int
    public var resolution: Int
    /// 4, 8, ..., resolution: every level the progressive schedule can ask for.
    public var resolutions: [Int]
    /// Whether training should add x-flips (recorded only; the cache holds unflipped images).
    public var mirror: Bool
    public var source: String
    public var skipped: [Skipped]
    /// A labelled set's class of each image, in image order, and the classes' names (label k is
    /// classNames[k]); nil for an unlabelled set.
    public var labels: [Int]?
    public var classNames: [String]?

    public init(count: Int, resolution: Int, mirror: Bool, source: String, skipped: [Skipped],
                labels: [Int]? = nil, classNames: [String]? = nil) {
        (format, version, resolutions) = (Self.formatName, Self.currentVersion, Self.resolutions(upTo: resolution))
        (self.count, self.resolution, self.mirror, self.source) = (count, resolution, mirror, source)
        (self.skipped, self.labels, self.classNames) = (skipped, labels, classNames)
    }

    /// The sizes the networks support: powers of two from 4 to 1024.
    public static func isValidResolution(_ r: Int) -> Bool { r >= 4 && r <= 1024 && r & (r - 1) == 0 }

    public static func resolutions(upTo r: Int) -> [Int] {
        Array(sequence(first: 4) { $0 < r ? $0 * 2 : nil })
    }

    public static func levelFileName(_ r: Int) -> String { String(format: "r%03d.u8", r) }

    public static let fileName = "manifest.json"
}

public final class DatasetCache {
    public let path: String
    public let manifest: DatasetManifest
    public var count: Int { manifest.count }
    public var resolution: Int { manifest.resolution }
    public var resolutions: [Int] { manifest.resolutions }
    public var mirror: Bool { manifest.mirror }
    /// Each image's class (nil: an unlabelled set), and how many classes there are.
    public var labels: [Int]? { manifest.labels }
    public var classCount: Int { manifest.classNames?.count ?? 0 }
    /// Mapped level files by resolution: base address and length in bytes (unmapped by deinit).
    private var levels: [Int: (base: UnsafePointer<UInt8>, bytes: Int)] = [:]

    private init(path: String, manifest: DatasetManifest) { (self.path, self.manifest) = (path, manifest) }

    deinit {
        for (_, level) in levels { munmap(UnsafeMutableRawPointer(mutating: level.base), level.bytes) }
    }

    /// Opens a folder written by `stylegan prepare`, validating the manifest and every level file.
    public static func open(_ path: String) throws -> DatasetCache {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw StyleGANError.dataset("\(path) does not exist; run stylegan prepare --source DIR --dest \(path)")
        }
        guard isDir.boolValue else { throw StyleGANError.dataset("\(path) is a file, not a prepared dataset folder") }
        // A folder of a killed or running preparer: complete-looking contents prove nothing.
        if URL(fileURLWithPath: path).lastPathComponent.contains(".partial-") {
            throw StyleGANError.dataset("\(path) is the unfinished output of an interrupted stylegan prepare; run it again")
        }
        let cache = DatasetCache(path: path, manifest: try readManifest(path))
        // A level that fails leaves those mapped before it to the cache's deinit.
        for r in cache.resolutions {
            cache.levels[r] = try mapLevel(path + "/" + DatasetManifest.levelFileName(r), count: cache.count, resolution: r)
        }
        return cache
    }

    private static func readManifest(_ dir: String) throws -> DatasetManifest {
        let file = dir + "/" + DatasetManifest.fileName
        var st = stat()
        guard stat(file, &st) == 0 else {
            throw StyleGANError.dataset("\(dir) is not a prepared dataset (no \(DatasetManifest.fileName)); run stylegan prepare")
        }
        // The skipped list can be long, but a manifest of more than 64 MiB is not one of ours.
        guard Int(st.st_size) <= 64 << 20 else { throw StyleGANError.dataset("\(file): \(st.st_size) bytes is too large for a manifest") }
        guard let data = FileManager.default.contents(atPath: file) else { throw StyleGANError.dataset("\(file): cannot be read") }
        let m: DatasetManifest
        do {
            m = try JSONDecoder().decode(DatasetManifest.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw StyleGANError.dataset("\(file): missing field '\(key.stringValue)'")
        } catch DecodingError.typeMismatch(_, let ctx) {
            throw StyleGANError.dataset("\(file): field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch {
            throw StyleGANError.dataset("\(file): not valid JSON")
        }
        guard m.format == DatasetManifest.formatName else {
            throw StyleGANError.dataset("\(file): format '\(m.format)', expected '\(DatasetManifest.formatName)'")
        }
        guard m.version == DatasetManifest.currentVersion else {
            throw StyleGANError.dataset("\(file): version \(m.version), this build reads version \(DatasetManifest.currentVersion); run stylegan prepare again")
        }
        guard m.count > 0 else { throw StyleGANError.dataset("\(file): count \(m.count), expected at least one image") }
        guard DatasetManifest.isValidResolution(m.resolution) else {
            throw StyleGANError.dataset("\(file): resolution \(m.resolution) is not a power of two in 4...1024")
        }
        guard m.resolutions == DatasetManifest.resolutions(upTo: m.resolution) else {
            throw StyleGANError.dataset("\(file): resolutions \(m.resolutions) do not match resolution \(m.resolution) (expected \(DatasetManifest.resolutions(upTo: m.resolution)))")
        }
        if m.labels != nil || m.classNames != nil {
            guard let labels = m.labels, let names = m.classNames, !names.isEmpty else {
                throw StyleGANError.dataset("\(file): 'labels' and 'classNames' come together")
            }
            guard labels.count == m.count else { throw StyleGANError.dataset("\(file): \(labels.count) labels for \(m.count) images") }
            if let bad = labels.firstIndex(where: { !(0..<names.count).contains($0) }) {
                throw StyleGANError.dataset("\(file): image \(bad)'s label \(labels[bad]) is outside 0..<\(names.count)")
            }
        }
        return m
    }

    /// Checks the file's size on the opened descriptor (so it cannot change in between), then maps it.
    private static func mapLevel(_ file: String, count: Int, resolution r: Int) throws -> (base: UnsafePointer<UInt8>, bytes: Int) {
        let (expected, overflow) = count.multipliedReportingOverflow(by: 3 * r * r)
        guard !overflow else { throw StyleGANError.dataset("\(file): \(count) images of \(r)x\(r) overflow the address space") }
        let fd = Foundation.open(file, O_RDONLY)
        guard fd >= 0 else {
            throw StyleGANError.dataset("\(file): cannot open (\(String(cString: strerror(errno)))); the dataset is incomplete, run stylegan prepare again")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw StyleGANError.dataset("\(file): not a regular file") }
        guard Int(st.st_size) == expected else {
            throw StyleGANError.dataset("\(file): \(st.st_size) bytes, expected \(expected) (\(count) images x 3 x \(r) x \(r)); the dataset is damaged, run stylegan prepare again")
        }
        guard let p = mmap(nil, expected, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw StyleGANError.dataset("\(file): mmap failed: \(String(cString: strerror(errno)))")
        }
        return (UnsafePointer(p.assumingMemoryBound(to: UInt8.self)), expected)
    }

    /// The CHW bytes of one image at one resolution (valid while the cache is alive).
    public func pixels(resolution r: Int, index: Int) -> UnsafeBufferPointer<UInt8> {
        guard let level = levels[r] else { preconditionFailure("dataset \(path) has no \(r)x\(r) level (has \(resolutions))") }
        precondition(index >= 0 && index < count, "image index \(index) outside 0..<\(count)")
        return UnsafeBufferPointer(start: level.base + index * 3 * r * r, count: 3 * r * r)
    }

    /// A batch (N, 3, r, r) in [-1, 1] (x / 127.5 - 1), image i mirrored in x where flip[i].
    public func images(resolution r: Int, indices: [Int], flip: [Bool]? = nil) -> Tensor {
        precondition(flip == nil || flip!.count == indices.count, "\(flip!.count) flips for \(indices.count) images")
        let out = Tensor(uninitialized: [indices.count, 3, r, r])
        for (i, index) in indices.enumerated() {
            let px = pixels(resolution: r, index: index)
            cimage_u8_to_signed_unit(px.baseAddress, 3 * r, r, (flip?[i] ?? false) ? 1 : 0, out.data + i * 3 * r * r)
        }
        return out
    }

    /// One image as interleaved RGB (for grids of reals and for metrics).
    public func uint8Image(resolution r: Int, index: Int) -> Image {
        let px = pixels(resolution: r, index: index)
        var rgb = [UInt8](repeating: 0, count: 3 * r * r)
        for c in 0..<3 {
            for i in 0..<(r * r) { rgb[i * 3 + c] = px[c * r * r + i] }
        }
        return Image(width: r, height: r, channels: 3, pixels: rgb)
    }
}
