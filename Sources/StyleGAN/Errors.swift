// The one error type the library and the command line throw: which part of the product failed
// (the domain) and one line a user can act on, naming the file where there is one.
public enum StyleGANError: Error, CustomStringConvertible, Equatable {
    case file(_ path: String, _ reason: String)         // reading or writing any file
    case safetensors(_ path: String, _ reason: String)  // the container format
    case checkpoint(_ path: String, _ reason: String)   // our checkpoints and generator files
    case config(String)                                 // network configuration
    case dataset(String)                                // prepared dataset folders and sources
    case image(String)                                  // PNG / JPEG files and pixel layouts
    case importing(String)                              // foreign weights: zip, pickle, torch, NumPy
    case metric(String)                                 // FID, KID, MS-SWD
    case training(String)                               // training options, runs and state
    case inference(String)                              // generate, mix, interpolate, project, edit

    public enum Domain: String, Sendable {
        case file, safetensors, checkpoint, config, dataset, image, importing, metric, training, inference
    }

    public var domain: Domain {
        switch self {
        case .file: .file
        case .safetensors: .safetensors
        case .checkpoint: .checkpoint
        case .config: .config
        case .dataset: .dataset
        case .image: .image
        case .importing: .importing
        case .metric: .metric
        case .training: .training
        case .inference: .inference
        }
    }

    /// What went wrong, without the path for the errors that carry one.
    public var reason: String {
        switch self {
        case .file(_, let r), .safetensors(_, let r), .checkpoint(_, let r): r
        case .config(let m), .dataset(let m), .image(let m), .importing(let m), .metric(let m),
             .training(let m), .inference(let m): m
        }
    }

    public var description: String {
        switch self {
        case .file(let p, let r), .safetensors(let p, let r), .checkpoint(let p, let r): "\(p): \(r)"
        default: reason
        }
    }
}
