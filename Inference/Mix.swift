// Style mixing (StyleGAN's figure 3): the row seed's styles with some layers' styles taken from the
// column seed; coarse (4-8 px), middle (16-32 px) or fine (64 px and up) layers, or a list.
import StyleGAN

/// Which synthesis layers take the column seed's styles.
public enum StyleLayers {
    case coarse, middle, fine
    case list([Int])

    /// "coarse" | "middle" | "fine" | "0-3" | "0,2,5".
    public init(parsing text: String) throws {
        switch text {
        case "coarse": self = .coarse
        case "middle": self = .middle
        case "fine": self = .fine
        default:
            do { self = .list(try parseSeeds(text)) } catch {
                throw StyleGANError.inference("bad --styles '\(text)': use coarse, middle, fine or layer indices like 0-3 or 4,5")
            }
        }
    }

    /// Layer indices for a network with `layerCount` layers (two per resolution from 4x4).
    public func layers(layerCount: Int) throws -> [Int] {
        let resolutionOf = { (l: Int) in 4 << (l / 2) }
        let all = Array(0..<layerCount)
        switch self {
        case .coarse: return all.filter { resolutionOf($0) <= 8 }
        case .middle: return all.filter { (16...32).contains(resolutionOf($0)) }
        case .fine: return all.filter { resolutionOf($0) >= 64 }
        case .list(let l):
            if let bad = l.first(where: { $0 >= layerCount }) {
                throw StyleGANError.inference("style layer \(bad) is past the network's \(layerCount) layers (0-\(layerCount - 1))")
            }
            return l
        }
    }
}

/// Row styles with `layers` replaced by the column's: both (1, layers, wDim).
public func mixStyles(row: Tensor, column: Tensor, layers: [Int]) -> Tensor {
    let n = row.shape[1]
    let take = Set(layers)
    let parts = (0..<n).map { l in (take.contains(l) ? column : row).narrow(axis: 1, start: l, length: 1) }
    return GradMode.withoutGrad { concat(parts, axis: 1) }
}

/// A row, column or key frame: a seed's styles, or given styles (a projected photo's w).
public enum LatentKey {
    case seed(Int)
    /// (1, layers, wDim), e.g. `Synthesizer.styles(wFile:)`; its noise is seed 0's.
    case styles(Tensor, name: String)

    public var name: String {
        switch self {
        case .seed(let s): return String(format: "%04d", s)
        case .styles(_, let n): return n
        }
    }

    public var noiseSeed: Int { if case .seed(let s) = self { return s } else { return 0 } }

    public func styles(_ s: Synthesizer, truncation: Truncation?) throws -> Tensor {
        switch self {
        case .seed(let seed): return try s.styles(seed: seed, truncation: truncation)
        case .styles(let ws, _): return try truncation?.apply(ws, wAvg: s.generator.wAvg) ?? ws
        }
    }
}

public struct StyleMixingFigure {
    /// The grid (with the row and column sources' own images along the edges) and each cell by (row, column) name.
    public let grid: Image
    public let cells: [(row: String, column: String, image: Image)]
}

public func styleMixingFigure(_ s: Synthesizer, rows: [Int], columns: [Int], styles: StyleLayers,
                              truncation: Truncation? = nil, noise: NoiseMode = .const) throws -> StyleMixingFigure {
    try styleMixingFigure(s, rows: rows.map(LatentKey.seed), columns: columns.map(LatentKey.seed), styles: styles, truncation: truncation, noise: noise)
}

public func styleMixingFigure(_ s: Synthesizer, rows: [LatentKey], columns: [LatentKey], styles: StyleLayers,
                              truncation: Truncation? = nil, noise: NoiseMode = .const) throws -> StyleMixingFigure {
    let layers = try styles.layers(layerCount: s.layerCount)
    let rowStyles = try rows.map { try $0.styles(s, truncation: truncation) }
    let colStyles = try columns.map { try $0.styles(s, truncation: truncation) }
    let blank = Image(width: s.resolution, height: s.resolution, channels: 3,
                      pixels: [UInt8](repeating: 255, count: s.resolution * s.resolution * 3))
    var tiles = [blank]
    for (key, ws) in zip(columns, colStyles) { tiles.append(s.image(ws, noise: s.noiseInput(noise, seed: key.noiseSeed))) }
    var cells: [(String, String, Image)] = []
    for (rkey, rws) in zip(rows, rowStyles) {
        tiles.append(s.image(rws, noise: s.noiseInput(noise, seed: rkey.noiseSeed)))
        for (ckey, cws) in zip(columns, colStyles) {
            // Noise follows the row: the cell is the row's image restyled.
            let img = s.image(mixStyles(row: rws, column: cws, layers: layers), noise: s.noiseInput(noise, seed: rkey.noiseSeed))
            tiles.append(img)
            cells.append((rkey.name, ckey.name, img))
        }
    }
    return StyleMixingFigure(grid: Image.grid(tiles, columns: columns.count + 1), cells: cells.map { ($0.0, $0.1, $0.2) })
}
