// The dataset tool end to end (DatasetPreparer writes, DatasetCache reads) on a folder of small
// images made here, including the files a real folder holds that are not images; and the C
// resampling under it (resize.c): Lanczos normalisation, antialiasing, enlarging, box levels.
import CImage
import Foundation
import Testing
@testable import StyleGAN
@testable import Training

// MARK: - Helpers

/// A fresh temporary folder per test, removed at deinit.
private final class TempDir {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("prepare-tests-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { path + "/" + name }
}

/// Deterministic pseudo-random bytes (an LCG), so failures reproduce.
private func noise(_ n: Int, seed: UInt32) -> [UInt8] {
    var s = seed &* 2654435761 &+ 1
    return (0..<n).map { _ in s = s &* 1664525 &+ 1013904223; return UInt8(truncatingIfNeeded: s >> 24) }
}

private let flatColour: [UInt8] = [200, 100, 50]
private let rgbaColour: [UInt8] = [10, 20, 30]

/// 24 readable images and 3 bad files. Sorted order: flat.png (0), img00..img19 (1...20),
/// readme.txt (bad), small.png (21), sub/grey.png (22), sub/rgba.png (23), trunc.png, x.png (bad).
private func makeSourceFolder(_ dir: String) throws {
    try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
    try Image(width: 40, height: 30, channels: 3, pixels: Array((0..<1200).map { _ in flatColour }.joined()))
        .writePNG(dir + "/flat.png")
    // img00: blue in the centre 30x30, red in the 5 columns either side, which the crop removes.
    var banded = [UInt8]()
    for _ in 0..<30 { for x in 0..<40 { banded += (x < 5 || x >= 35) ? [255, 0, 0] : [0, 0, 255] } }
    try Image(width: 40, height: 30, channels: 3, pixels: banded).writePNG(dir + "/img00.png")
    for i in 1..<20 {
        try Image(width: 40, height: 30, channels: 3, pixels: noise(40 * 30 * 3, seed: UInt32(i)))
            .writePNG(dir + String(format: "/img%02d.png", i))
    }
    // 7x9: enlarged to 16; a left-to-right ramp.
    try Image(width: 7, height: 9, channels: 3, pixels: (0..<63).flatMap { i -> [UInt8] in
        let v = UInt8(i % 7 * 42); return [v, v, v] }).writePNG(dir + "/small.png")
    try Image(width: 30, height: 40, channels: 1, pixels: noise(1200, seed: 99)).writePNG(dir + "/sub/grey.png")
    // RGBA: a flat colour under varying alpha; alpha is dropped, so the colour must survive.
    try Image(width: 40, height: 30, channels: 4, pixels: (0..<1200).flatMap { i in rgbaColour + [UInt8(i % 256)] })
        .writePNG(dir + "/sub/rgba.png")

    let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/img01.png"))
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: dir + "/trunc.png"))
    try Data(noise(500, seed: 7)).write(to: URL(fileURLWithPath: dir + "/x.png"))
    try Data("not an image\n".utf8).write(to: URL(fileURLWithPath: dir + "/readme.txt"))
}

private func prepare(_ src: String, _ dest: String, resolution: Int = 16, mirror: Bool = true, force: Bool = false) throws -> DatasetManifest {
    try DatasetPreparer(source: src, dest: dest, resolution: resolution, mirror: mirror, force: force).run().manifest
}

private func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
}

private func siblings(of path: String) -> [String] {
    let url = URL(fileURLWithPath: path)
    return ((try? FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)) ?? [])
        .filter { $0.hasPrefix(url.lastPathComponent) }.sorted()
}

/// Runs `body` and returns the error's text (nil if nothing was thrown).
private func errorText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

// MARK: - Preparer and cache

@Suite("Dataset prepare and cache")
struct PrepareTests {
    @Test func preparesEveryLevelAndListsTheBadFiles() throws {
        let tmp = TempDir()
        try makeSourceFolder(tmp.sub("src"))
        let data = tmp.sub("data")
        let m = try prepare(tmp.sub("src"), data)

        #expect(m.count == 24 && m.resolution == 16 && m.resolutions == [4, 8, 16] && m.mirror)
        #expect(m.format == "stylegan-swift-dataset" && m.version == 1)
        #expect(m.skipped.map(\.path) == ["readme.txt", "trunc.png", "x.png"])
        #expect(m.skipped.allSatisfy { !$0.reason.isEmpty })
        let onDisk = try JSONDecoder().decode(DatasetManifest.self, from: Data(contentsOf: URL(fileURLWithPath: data + "/manifest.json")))
        #expect(onDisk == m)
        for r in [4, 8, 16] { #expect(fileSize(data + String(format: "/r%03d.u8", r)) == 24 * 3 * r * r) }
        #expect(siblings(of: data) == ["data"], "a temporary folder was left behind")

        let cache = try DatasetCache.open(data)
        #expect(cache.count == 24 && cache.resolution == 16 && cache.resolutions == [4, 8, 16] && cache.mirror)
        // Flat colours stay flat at every level: the filters' weights sum to one, the crop adds no
        // border, and RGBA keeps its colour (alpha dropped).
        for (index, colour) in [(0, flatColour), (1, [0, 0, 255] as [UInt8]), (23, rgbaColour)] {
            for r in [4, 8, 16] {
                let px = cache.pixels(resolution: r, index: index)
                for c in 0..<3 {
                    #expect(px[(c * r * r)..<((c + 1) * r * r)].allSatisfy { $0 == colour[c] }, "image \(index) at \(r) px, channel \(c)")
                }
            }
        }
        // Grey is replicated to RGB.
        let grey = cache.pixels(resolution: 16, index: 22)
        #expect(Array(grey[0..<256]) == Array(grey[256..<512]) && Array(grey[0..<256]) == Array(grey[512..<768]))
        // The enlarged ramp still rises left to right.
        let small = cache.pixels(resolution: 16, index: 21)
        #expect(small[8 * 16 + 1] < small[8 * 16 + 8] && small[8 * 16 + 8] < small[8 * 16 + 14])
    }

    @Test func lowerLevelsAreBoxAverages() throws {
        let tmp = TempDir()
        try makeSourceFolder(tmp.sub("src"))
        try _ = prepare(tmp.sub("src"), tmp.sub("data"))
        let cache = try DatasetCache.open(tmp.sub("data"))
        for index in 0..<cache.count {
            let (p4, p8, p16) = (cache.pixels(resolution: 4, index: index), cache.pixels(resolution: 8, index: index),
                                 cache.pixels(resolution: 16, index: index))
            for c in 0..<3 {
                for y in 0..<4 {
                    for x in 0..<4 {
                        let v = Int(p4[c * 16 + y * 4 + x])
                        // The mean of the 2x2 block of the 8x8 level, within the rounding of that level ...
                        var s8 = 0
                        for dy in 0..<2 { for dx in 0..<2 { s8 += Int(p8[c * 64 + (2 * y + dy) * 8 + 2 * x + dx]) } }
                        #expect(abs(Double(v) - Double(s8) / 4) <= 1, "image \(index) (\(c), \(y), \(x))")
                        // ... and exactly the mean of the 4x4 block of 16x16, rounded half to even.
                        var s16 = 0
                        for dy in 0..<4 { for dx in 0..<4 { s16 += Int(p16[c * 256 + (4 * y + dy) * 16 + 4 * x + dx]) } }
                        #expect(v == Int((Double(s16) / 16).rounded(.toNearestOrEven)), "image \(index) (\(c), \(y), \(x))")
                    }
                }
            }
        }
    }

    @Test func batchesAreInRangeAndFlip() throws {
        let tmp = TempDir()
        try makeSourceFolder(tmp.sub("src"))
        try _ = prepare(tmp.sub("src"), tmp.sub("data"))
        let cache = try DatasetCache.open(tmp.sub("data"))
        let batch = cache.images(resolution: 8, indices: [0, 5, 5, 23], flip: [false, false, true, true])
        #expect(batch.shape == [4, 3, 8, 8])
        #expect(batch.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        let v = batch.scalars
        #expect(v[0] == Float(200) / 127.5 - 1 && v[64] == Float(100) / 127.5 - 1)
        let (plain, flipped) = (Array(v[192..<384]), Array(v[384..<576]))
        for row in 0..<24 {
            #expect(Array(flipped[(row * 8)..<(row * 8 + 8)]) == plain[(row * 8)..<(row * 8 + 8)].reversed())
        }
        #expect(plain != flipped)
        let img = cache.uint8Image(resolution: 8, index: 5)
        let px = cache.pixels(resolution: 8, index: 5)
        #expect(img.width == 8 && img.channels == 3 && img.pixels[3 * 9 + 1] == px[64 + 9])
        #expect(cache.images(resolution: 4, indices: []).shape == [0, 3, 4, 4])
    }

    @Test func partialFolderIsNeverADatasetAndARerunWorks() throws {
        let tmp = TempDir()
        try makeSourceFolder(tmp.sub("src"))
        try _ = prepare(tmp.sub("src"), tmp.sub("data"))
        // A run killed just before its rename: complete contents, unfinished name. The pid cannot exist.
        let stale = tmp.sub("other.partial-2147483647")
        try FileManager.default.copyItem(atPath: tmp.sub("data"), toPath: stale)
        #expect(errorText { _ = try DatasetCache.open(stale) }?.contains("interrupted") == true)
        #expect(errorText { _ = try DatasetCache.open(tmp.sub("other")) }?.contains("does not exist") == true)
        // A run killed earlier has no manifest.
        try FileManager.default.createDirectory(atPath: tmp.sub("early"), withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: tmp.sub("data/r004.u8"), toPath: tmp.sub("early/r004.u8"))
        #expect(errorText { _ = try DatasetCache.open(tmp.sub("early")) }?.contains("not a prepared dataset (no manifest.json); run stylegan prepare") == true)

        let m = try prepare(tmp.sub("src"), tmp.sub("other"))
        let reopened = try DatasetCache.open(tmp.sub("other"))
        #expect(m.count == 24 && reopened.count == 24)
        #expect(siblings(of: tmp.sub("other")) == ["other"], "the stale partial folder was not cleaned up")
    }

    @Test func refusesANonEmptyDestinationUnlessForcedOverADataset() throws {
        let tmp = TempDir()
        try makeSourceFolder(tmp.sub("src"))
        let photos = tmp.sub("photos")
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: photos + "/keep.txt"))
        #expect(errorText { _ = try prepare(tmp.sub("src"), photos) }?.contains("not empty") == true)
        #expect(errorText { _ = try prepare(tmp.sub("src"), photos, force: true) }?.contains("not a prepared dataset") == true)
        #expect(FileManager.default.fileExists(atPath: photos + "/keep.txt") && siblings(of: photos) == ["photos"])

        // An empty folder is fine; an existing dataset needs --force, and is replaced whole.
        let data = tmp.sub("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
        try _ = prepare(tmp.sub("src"), data)
        #expect(errorText { _ = try prepare(tmp.sub("src"), data, resolution: 8) } != nil)
        let m = try prepare(tmp.sub("src"), data, resolution: 8, mirror: false, force: true)
        let cache = try DatasetCache.open(data)
        #expect(m.resolution == 8 && cache.resolutions == [4, 8] && !cache.mirror)
        #expect(!FileManager.default.fileExists(atPath: data + "/r016.u8") && siblings(of: data) == ["data"])
    }

    @Test func noReadableImageIsAnErrorAndWritesNothing() throws {
        let tmp = TempDir()
        let src = tmp.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: false)
        try Data(noise(100, seed: 1)).write(to: URL(fileURLWithPath: src + "/a.png"))
        try Data("text".utf8).write(to: URL(fileURLWithPath: src + "/b.txt"))
        let text = errorText { _ = try prepare(src, tmp.sub("data")) }
        #expect(text?.contains("no readable images") == true && text?.contains("a.png") == true)
        #expect(siblings(of: tmp.sub("data")).isEmpty)
        let empty = tmp.sub("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        #expect(errorText { _ = try prepare(empty, tmp.sub("data")) }?.contains("no files") == true)
        #expect(errorText { _ = try prepare(tmp.sub("missing"), tmp.sub("data")) }?.contains("not a folder") == true)
    }

    @Test(arguments: [0, 2, 48, 100, 2048])
    func rejectsAResolutionThatIsNotAPowerOfTwoIn4To1024(_ r: Int) {
        #expect(errorText { _ = try DatasetPreparer(source: "/nonexistent", dest: "/nonexistent", resolution: r) }?
            .contains("not a power of two in 4...1024") == true)
    }

    @Test func openValidatesManifestAndFileSizes() throws {
        let tmp = TempDir()
        try makeSourceFolder(tmp.sub("src"))
        let data = tmp.sub("data")
        try _ = prepare(tmp.sub("src"), data)
        let manifestURL = URL(fileURLWithPath: data + "/manifest.json")
        let original = try Data(contentsOf: manifestURL)
        func withManifest(_ edit: (inout [String: Any]) -> Void) throws -> String? {
            var json = try JSONSerialization.jsonObject(with: original) as! [String: Any]
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: manifestURL)
            defer { try? original.write(to: manifestURL) }
            return errorText { _ = try DatasetCache.open(data) }
        }
        #expect(try withManifest { $0["version"] = 2 }?.contains("version 2") == true)
        #expect(try withManifest { $0["format"] = "other" }?.contains("format 'other'") == true)
        #expect(try withManifest { $0["count"] = 0 }?.contains("count 0") == true)
        #expect(try withManifest { $0["resolutions"] = [4, 16] }?.contains("do not match") == true)
        #expect(try withManifest { $0["count"] = 25 }?.contains("r004.u8") == true)
        #expect(try withManifest { $0.removeValue(forKey: "mirror") }?.contains("missing field 'mirror'") == true)
        _ = try DatasetCache.open(data)

        let level = data + "/r008.u8"
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: level))
        try handle.truncate(atOffset: 100)
        try handle.close()
        let text = errorText { _ = try DatasetCache.open(data) }
        #expect(text?.contains("r008.u8") == true && text?.contains("expected \(24 * 3 * 64)") == true)
        try FileManager.default.removeItem(atPath: level)
        #expect(errorText { _ = try DatasetCache.open(data) }?.contains("r008.u8") == true)
    }
}

// MARK: - resize.c

@Suite("Lanczos resize and box levels (resize.c)")
struct ResizeTests {
    /// Resizes interleaved pixels (w, h, c) to (dw, dh, c), interleaved.
    private func resize(_ src: [UInt8], _ w: Int, _ h: Int, _ c: Int, to dw: Int, _ dh: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: dw * dh * c)
        let rc = out.withUnsafeMutableBufferPointer { dst in
            cimage_resize_lanczos3(src, Int32(w), Int32(h), Int32(c), c, w * c, dst.baseAddress, Int32(dw), Int32(dh), c, dw * c, 1)
        }
        #expect(rc == 0)
        return out
    }

    @Test func constantStaysConstantShrinkingAndEnlarging() {
        let colour: [UInt8] = [3, 128, 254]
        let src = Array((0..<(37 * 23)).map { _ in colour }.joined())
        for (dw, dh) in [(16, 16), (5, 3), (64, 64), (37, 23), (1, 1)] {
            let out = resize(src, 37, 23, 3, to: dw, dh)
            #expect(out == Array((0..<(dw * dh)).map { _ in colour }.joined()), "\(dw)x\(dh)")
        }
    }

    @Test func sameSizeIsACopy() {
        let src = noise(19 * 11 * 3, seed: 3)
        #expect(resize(src, 19, 11, 3, to: 19, 11) == src)
    }

    @Test(arguments: [(64, 16), (48, 16), (64, 15), (1000, 16)])
    func shrinkingACheckerboardGivesGrey(_ size: (from: Int, to: Int)) {
        // Without the widened kernel, shrinking by 3 samples single pixels (pure black or white)
        // and other factors beat into stripes; a low-pass filter gives the mean everywhere.
        let n = size.from
        let src = (0..<(n * n)).map { i -> UInt8 in (i / n + i % n) % 2 == 0 ? 0 : 255 }
        let out = resize(src, n, n, 1, to: size.to, size.to)
        let worst = out.map { abs(Int($0) - 128) }.max()!
        #expect(worst <= 3, "largest distance from mid-grey: \(worst)")
    }

    @Test func enlargingInterpolates() {
        // A ramp 0, 85, 170, 255 across 4 pixels, enlarged 4x: the ends stay near the end values
        // and the middle near the middle.
        let src: [UInt8] = (0..<(4 * 2)).map { UInt8($0 % 4 * 85) }
        let out = resize(src, 4, 2, 1, to: 16, 8)
        let row = Array(out[(3 * 16)..<(4 * 16)])
        #expect(row[0] <= 10 && row[15] >= 245 && abs(Int(row[7]) + Int(row[8]) - 255) <= 10, "\(row)")
        #expect(zip(row, row.dropFirst()).filter { $0 > $1 }.count <= 2, "mostly rising: \(row)")
    }

    @Test func boxLevelsAndSignedUnit() {
        var top = [UInt8](repeating: 0, count: 2 * 4 * 4)
        for i in 0..<16 { top[i] = UInt8(i); top[16 + i] = 255 }
        var l1 = [UInt8](repeating: 0, count: 2 * 4), l2 = [UInt8](repeating: 0, count: 2)
        let rc = l1.withUnsafeMutableBufferPointer { a in
            l2.withUnsafeMutableBufferPointer { b in
                let outs: [UnsafeMutablePointer<UInt8>?] = [a.baseAddress, b.baseAddress]
                return cimage_box_levels(top, 4, 2, 2, outs)
            }
        }
        #expect(rc == 0)
        // Plane 0 blocks: (0+1+4+5)/4 = 2.5 -> 2 (half to even), 4.5 -> 4, 10.5 -> 10, 12.5 -> 12; mean 7.5 -> 8.
        #expect(l1 == [2, 4, 10, 12, 255, 255, 255, 255] && l2 == [8, 255])

        let bytes: [UInt8] = [0, 255, 51, 127]
        var f = [Float](repeating: 0, count: 4)
        cimage_u8_to_signed_unit(bytes, 2, 2, 1, &f)
        #expect(f == [1, -1, Float(127) / 127.5 - 1, Float(51) / 127.5 - 1])
    }
}
