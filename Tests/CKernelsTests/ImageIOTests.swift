// Tests of the CImage layer (libpng/libjpeg IO): exact round trips, the PNG colour types the
// reader converts, the JPEG fixtures, and the malformed files a dataset folder can hold, each of
// which must give a clear one-line error and no crash. PNGs of the less common kinds are built
// here byte by byte (stored deflate blocks), so the expected pixels are known exactly; JPEGs come
// from Tests/Fixtures/images (made by make_jpeg_fixtures.c there).
import CImage
import Foundation
import Testing

// MARK: - Helpers

/// A fresh temporary folder per test, removed at deinit.
private final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("cimage-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}

private let fixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")

private typealias Reader = (UnsafePointer<CChar>?, UnsafeMutablePointer<cimage>?,
                            UnsafeMutablePointer<CChar>?, Int) -> Int32

/// Reads with one of the C readers; returns the image's bytes or the error message.
private func read(_ path: String, with reader: Reader = cimage_read)
    -> Result<(w: Int, h: Int, c: Int, px: [UInt8]), ImageError>
{
    var img = cimage()
    var err = [CChar](repeating: 0, count: 256)
    let rc = reader(path, &img, &err, err.count)
    if rc != 0 {
        #expect(img.pixels == nil, "a failed read must leave no pixels")
        let msg = err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return .failure(ImageError(message: msg))
    }
    defer { cimage_free(&img) }
    let n = Int(img.width) * Int(img.height) * Int(img.channels)
    let px = Array(UnsafeBufferPointer(start: img.pixels, count: n))
    return .success((Int(img.width), Int(img.height), Int(img.channels), px))
}

private struct ImageError: Error { let message: String }

/// Expects a read to fail; prints and returns the message.
@discardableResult
private func expectFailure(_ path: String, with reader: Reader = cimage_read, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) -> String
{
    switch read(path, with: reader) {
    case .success(let img):
        Issue.record("\(what): read succeeded (\(img.w)x\(img.h)x\(img.c))",
                     sourceLocation: sourceLocation)
        return ""
    case .failure(let e):
        print("\(what): \(e.message)")
        #expect(!e.message.isEmpty && !e.message.contains("\n"), sourceLocation: sourceLocation)
        return e.message
    }
}

private func write(_ path: String, _ px: [UInt8], _ w: Int, _ h: Int, _ c: Int) -> (Int32, String) {
    var err = [CChar](repeating: 0, count: 256)
    let rc = cimage_write_png(path, px, Int32(w), Int32(h), Int32(c), &err, err.count)
    return (rc, err.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
}

/// Deterministic test pixels.
private func pattern(_ n: Int, seed: UInt32 = 1) -> [UInt8] {
    var s = seed
    return (0..<n).map { _ in
        s = s &* 1_664_525 &+ 1_013_904_223
        return UInt8(truncatingIfNeeded: s >> 24)
    }
}

// MARK: - A minimal PNG encoder (stored deflate), for colour types cimage_write_png never writes

private let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

private func be32(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
}

private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let td = Array(type.utf8) + data
    return be32(UInt32(data.count)) + td + be32(crc32(td))
}

/// zlib stream of stored (uncompressed) blocks.
private func zlibStored(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x78, 0x01]
    var i = 0
    repeat {
        let n = min(65535, data.count - i)
        let last: UInt8 = i + n == data.count ? 1 : 0
        out += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        out += data[i..<i + n]
        i += n
    } while i < data.count
    var a: UInt32 = 1, b: UInt32 = 0
    for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    return out + be32(b << 16 | a)
}

private let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

private func ihdr(_ w: UInt32, _ h: UInt32, depth: UInt8, colorType: UInt8, interlace: UInt8 = 0)
    -> [UInt8]
{
    chunk("IHDR", be32(w) + be32(h) + [depth, colorType, 0, 0, interlace])
}

/// A PNG from already packed rows (filter type 0 is prepended to each).
private func makePNG(w: Int, h: Int, depth: UInt8, colorType: UInt8, rows: [[UInt8]],
                     extra: [UInt8] = []) -> [UInt8]
{
    let raw: [UInt8] = rows.flatMap { (row: [UInt8]) -> [UInt8] in [0] + row }
    return pngSignature + ihdr(UInt32(w), UInt32(h), depth: depth, colorType: colorType) + extra
        + chunk("IDAT", zlibStored(raw)) + chunk("IEND", [])
}

/// An Adam7-interlaced PNG from whole-byte pixels (`bpp` bytes each, row-major).
private func makeInterlacedPNG(w: Int, h: Int, depth: UInt8, colorType: UInt8, bpp: Int,
                               pixels: [UInt8]) -> [UInt8]
{
    let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
    var raw: [UInt8] = []
    for (x0, y0, dx, dy) in passes where x0 < w && y0 < h {
        for y in stride(from: y0, to: h, by: dy) {
            raw.append(0)
            for x in stride(from: x0, to: w, by: dx) {
                raw += pixels[(y * w + x) * bpp..<(y * w + x + 1) * bpp]
            }
        }
    }
    return pngSignature + ihdr(UInt32(w), UInt32(h), depth: depth, colorType: colorType, interlace: 1)
        + chunk("IDAT", zlibStored(raw)) + chunk("IEND", [])
}

// MARK: - Tests

@Suite("ImageIO") struct ImageIOTests {
    @Test("PNG write then read gives the same bytes", arguments: [1, 3, 4])
    func pngRoundTrip(channels: Int) throws {
        let dir = TempDir()
        for (w, h) in [(7, 5), (1, 1), (13, 3)] {
            let px = pattern(w * h * channels, seed: UInt32(w * 100 + channels))
            let path = dir.path("rt_\(w)x\(h)x\(channels).png")
            let (rc, msg) = write(path, px, w, h, channels)
            #expect(rc == 0, "\(msg)")
            for reader in [cimage_read, cimage_read_png] as [Reader] {
                let img = try read(path, with: reader).get()
                #expect(img.w == w && img.h == h && img.c == channels)
                #expect(img.px == px)
            }
        }
    }

    @Test("PNG colour types are converted to 8-bit grey, RGB or RGBA")
    func pngConversions() throws {
        let dir = TempDir()
        let (w, h) = (7, 5)

        // 8-bit grey stays one channel.
        let grey = pattern(w * h, seed: 7)
        let greyPath = dir.write("grey8.png", makePNG(
            w: w, h: h, depth: 8, colorType: 0,
            rows: (0..<h).map { Array(grey[$0 * w..<($0 + 1) * w]) }))
        var img = try read(greyPath).get()
        #expect(img.c == 1 && img.w == w && img.h == h && img.px == grey)

        // 1-bit grey expands to 0/255.
        let bits = (0..<w * h).map { ($0 * 5 + $0 / 3) % 2 }
        let packed = (0..<h).map { y -> [UInt8] in
            var byte: UInt8 = 0
            for x in 0..<w where bits[y * w + x] == 1 { byte |= 0x80 >> UInt8(x) }
            return [byte]
        }
        img = try read(dir.write("grey1.png", makePNG(w: w, h: h, depth: 1, colorType: 0,
                                                      rows: packed))).get()
        #expect(img.c == 1 && img.px == bits.map { $0 == 1 ? 255 : 0 })

        // 16-bit grey, interlaced: the high byte of each sample survives.
        let g16 = pattern(w * h * 2, seed: 9)
        img = try read(dir.write("grey16i.png", makeInterlacedPNG(
            w: w, h: h, depth: 16, colorType: 0, bpp: 2, pixels: g16))).get()
        #expect(img.c == 1 && img.px == stride(from: 0, to: g16.count, by: 2).map { g16[$0] })

        // 8-bit RGBA, interlaced: exact.
        let rgba = pattern(w * h * 4, seed: 11)
        img = try read(dir.write("rgba8i.png", makeInterlacedPNG(
            w: w, h: h, depth: 8, colorType: 6, bpp: 4, pixels: rgba))).get()
        #expect(img.c == 4 && img.px == rgba)

        // Grey + alpha widens to RGBA.
        let ga = pattern(w * h * 2, seed: 13)
        img = try read(dir.write("ga.png", makePNG(
            w: w, h: h, depth: 8, colorType: 4,
            rows: (0..<h).map { Array(ga[$0 * w * 2..<($0 + 1) * w * 2]) }))).get()
        let gaExpected: [UInt8] = (0..<w * h).flatMap { (i: Int) -> [UInt8] in
            [ga[2 * i], ga[2 * i], ga[2 * i], ga[2 * i + 1]]
        }
        #expect(img.c == 4 && img.px == gaExpected)

        // Palette with transparency becomes RGBA; entries past tRNS are opaque.
        let palette: [[UInt8]] = [[255, 0, 0], [0, 128, 255], [10, 20, 30]]
        let alpha: [UInt8] = [0, 77]
        let idx = (0..<w * h).map { UInt8($0 % 3) }
        img = try read(dir.write("pal.png", makePNG(
            w: w, h: h, depth: 8, colorType: 3,
            rows: (0..<h).map { Array(idx[$0 * w..<($0 + 1) * w]) },
            extra: chunk("PLTE", palette.flatMap { $0 }) + chunk("tRNS", alpha)))).get()
        let palExpected: [UInt8] = idx.flatMap { (i: UInt8) -> [UInt8] in
            palette[Int(i)] + [Int(i) < alpha.count ? alpha[Int(i)] : 255]
        }
        #expect(img.c == 4 && img.px == palExpected)
    }

    @Test("JPEG fixtures decode to grey, RGB, and CMYK converted to RGB")
    func jpegFixtures() throws {
        // Largest difference from the encoded values, skipping `skip` (pixels whose chroma the
        // decoder's smooth upsampling blends across a colour edge).
        func maxDiff(_ a: [UInt8], _ b: [UInt8], channels: Int, skip: (Int) -> Bool = { _ in false })
            -> Int
        {
            guard a.count == b.count else { return .max }
            var worst = 0
            for i in 0..<a.count where !skip(i / channels) {
                worst = max(worst, abs(Int(a[i]) - Int(b[i])))
            }
            return worst
        }
        for reader in [cimage_read, cimage_read_jpeg] as [Reader] {
            var img = try read(fixtures.appendingPathComponent("rgb_21x13.jpg").path, with: reader).get()
            #expect(img.w == 21 && img.h == 13 && img.c == 3)
            let rgb: [UInt8] = (0..<13 * 21).flatMap { (i: Int) -> [UInt8] in
                i % 21 < 16 ? [200, 30, 40] : [20, 60, 220]
            }
            var diff = maxDiff(img.px, rgb, channels: 3, skip: { [15, 16, 17].contains($0 % 21) })
            print("rgb_21x13.jpg: largest difference \(diff)")
            #expect(diff <= 3)

            img = try read(fixtures.appendingPathComponent("grey_9x7.jpg").path, with: reader).get()
            #expect(img.w == 9 && img.h == 7 && img.c == 1)
            let grey: [UInt8] = (0..<63).map { (i: Int) -> UInt8 in i % 9 < 8 ? 40 : 200 }
            diff = maxDiff(img.px, grey, channels: 1)
            print("grey_9x7.jpg: largest difference \(diff)")
            #expect(diff <= 3)

            img = try read(fixtures.appendingPathComponent("cmyk_8x8.jpg").path, with: reader).get()
            #expect(img.w == 8 && img.h == 8 && img.c == 3)
            let cmyk: [UInt8] = (0..<64).flatMap { (_: Int) -> [UInt8] in [173, 86, 43] }
            diff = maxDiff(img.px, cmyk, channels: 3)
            print("cmyk_8x8.jpg: largest difference \(diff)")
            #expect(diff <= 3)
        }
    }

    @Test("cimage_read picks the decoder from the bytes, not the name")
    func sniffing() throws {
        let dir = TempDir()
        let px = pattern(7 * 5 * 3)
        #expect(write(dir.path("png.jpg"), px, 7, 5, 3).0 == 0)
        #expect(try read(dir.path("png.jpg")).get().px == px)
        let jpeg = try Data(contentsOf: fixtures.appendingPathComponent("grey_9x7.jpg"))
        let img = try read(dir.write("jpeg.png", [UInt8](jpeg))).get()
        #expect(img.w == 9 && img.h == 7 && img.c == 1)
    }

    @Test("Malformed PNG files give an error, not a crash")
    func badPNGs() throws {
        let dir = TempDir()
        let px = pattern(7 * 5 * 4)
        #expect(write(dir.path("good.png"), px, 7, 5, 4).0 == 0)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path("good.png"))))

        let half = dir.write("half.png", Array(good[..<(good.count / 2)]))
        for reader in [cimage_read, cimage_read_png] as [Reader] {
            #expect(expectFailure(half, with: reader, "truncated PNG").contains("truncated"))
        }
        // Cut inside IEND: the pixels are all there but the file is not whole.
        let noEnd = dir.write("noend.png", Array(good[..<(good.count - 6)]))
        #expect(expectFailure(noEnd, "PNG without IEND").contains("truncated"))
        #expect(expectFailure(dir.write("sig.png", pngSignature), "PNG signature only")
            .contains("truncated"))

        // IHDR with a correct CRC claiming 100000x100000: rejected before any allocation.
        let huge = pngSignature + ihdr(100_000, 100_000, depth: 8, colorType: 2) + chunk("IEND", [])
        let hugePath = dir.write("huge.png", huge)
        for reader in [cimage_read, cimage_read_png] as [Reader] {
            let msg = expectFailure(hugePath, with: reader, "100000x100000 PNG")
            #expect(msg.contains("100000x100000") && msg.contains("16384"))
        }
        // Within the side limit but over the pixel limit.
        let wide = pngSignature + ihdr(16384, 16384, depth: 8, colorType: 0) + chunk("IEND", [])
        #expect(expectFailure(dir.write("wide.png", wide), "16384x16384 PNG").contains("pixel limit"))

        // A corrupted IHDR CRC is libpng's to find.
        var badCRC = good
        badCRC[29] ^= 0xFF
        expectFailure(dir.write("badcrc.png", badCRC), "PNG with bad IHDR CRC")

        // Random bytes named .png.
        var junk = pattern(300, seed: 42)
        junk[0] = 0x13
        let junkPath = dir.write("random.png", junk)
        #expect(expectFailure(junkPath, "random .png") == "not a PNG or JPEG file")
        #expect(expectFailure(junkPath, with: cimage_read_png, "random .png via read_png")
            .contains("not a PNG"))
    }

    @Test("Malformed JPEG files give an error, not a crash")
    func badJPEGs() throws {
        let dir = TempDir()
        let garbage = dir.write("garbage.jpg", [0xFF, 0xD8, 0xFF] + pattern(64, seed: 3))
        for reader in [cimage_read, cimage_read_jpeg] as [Reader] {
            #expect(expectFailure(garbage, with: reader, "JPEG with bad header").hasPrefix("JPEG: "))
        }
        let jpeg = [UInt8](try Data(contentsOf: fixtures.appendingPathComponent("rgb_21x13.jpg")))
        let half = dir.write("half.jpg", Array(jpeg[..<(jpeg.count / 2)]))
        #expect(expectFailure(half, "truncated JPEG").contains("Premature end"))

        let png = pngSignature + ihdr(1, 1, depth: 8, colorType: 0)
        #expect(expectFailure(dir.write("png.jpg", png), with: cimage_read_jpeg, "PNG via read_jpeg")
            .contains("Not a JPEG file: starts with 0x89 0x50"))
    }

    @Test("Empty and missing files give an error")
    func emptyAndMissing() {
        let dir = TempDir()
        let empty = dir.write("empty.png", [])
        let missing = dir.path("does-not-exist.png")
        for (name, reader) in [("read", cimage_read), ("read_png", cimage_read_png),
                               ("read_jpeg", cimage_read_jpeg)] as [(String, Reader)] {
            #expect(expectFailure(empty, with: reader, "empty file via \(name)").contains("mpty"))
            #expect(expectFailure(missing, with: reader, "missing file via \(name)")
                .contains("No such file"))
        }
    }

    @Test("cimage_write_png checks its arguments")
    func writeArguments() {
        let dir = TempDir()
        let px = [UInt8](repeating: 0, count: 64)
        for (w, h, c, why) in [(4, 4, 2, "2 channels"), (0, 4, 1, "zero width"),
                               (20000, 1, 1, "side too large")] {
            let path = dir.path("w.png")
            let (rc, msg) = write(path, px, w, h, c)
            print("write \(why): \(msg)")
            #expect(rc != 0 && !msg.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: path))
        }
        let (rc, msg) = write(dir.path("no/such/dir/x.png"), px, 4, 4, 1)
        print("write into a missing folder: \(msg)")
        #expect(rc != 0 && msg.contains("No such file"))
    }
}
